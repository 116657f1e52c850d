mod common;
use common::Server;

#[test]
fn ping_set_get() {
    let s = Server::start();
    let mut c = s.raw();
    c.expect(&["PING"], "+PONG\r\n");
    c.expect(&["SET", "k", "v"], "+OK\r\n");
    c.expect(&["GET", "k"], "$1\r\nv\r\n");
    let mut r = s.client();
    let v: String = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(v, "v");
}
