//! Runs the two examples (examples/) against a real server: the code a user copies is the
//! code that is tested.

mod common;

#[path = "../examples/session_store.rs"]
mod session_store;

#[path = "../examples/feature_flags.rs"]
mod feature_flags;

use common::Server;

#[test]
fn session_store_example_runs() {
    let s = Server::start();
    session_store::run(&s.url()).unwrap();
    // It left the namespace behind, holding no session.
    let mut c = s.raw();
    c.expect(&["SELECT", "SESSIONS"], "+OK\r\n");
    c.expect(&["DBSIZE"], ":0\r\n");
    // A second run reuses the namespace.
    session_store::run(&s.url()).unwrap();
}

#[test]
fn feature_flags_example_runs() {
    let s = Server::start();
    feature_flags::run(&s.url()).unwrap();
    let mut c = s.raw();
    c.expect(&["SELECT", "FLAGS"], "+OK\r\n");
    c.expect(
        &["KV.GETWITHMETADATA", "flags:v1"],
        "*2\r\n$46\r\n{\"new_dashboard\":false,\"beta_users\":[\"user1\"]}\r\n$20\r\n{\"updated_by\":\"ops\"}\r\n",
    );
}
