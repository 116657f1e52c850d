//! `ACL SETUSER|GETUSER|DELUSER|LIST|USERS|WHOAMI|CAT|LOG|LOAD|SAVE|GENPASS|DRYRUN|HELP`, with
//! Redis 7.0's replies and texts (checked against redis-server 7.0.15). The rules themselves
//! live in acl/.

use super::args::is;
use super::connection::help;
use super::{table, Args, Command, Ctx};
use crate::acl::{Acl, CATEGORIES};
use crate::errors::{self, err};
use crate::protocol::Reply;
use bytes::Bytes;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// `ACL SETUSER username [rule ...]`
pub struct AclSetuser {
    name: String,
    rules: Vec<String>,
}

impl Command for AclSetuser {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        Ok(AclSetuser {
            name: text(&a.next()?),
            rules: a.rest().iter().map(|r| text(r)).collect(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
            return err("ERR Usernames can't contain spaces or null characters");
        }
        match ctx.shared.acl.set_user(&self.name, &self.rules) {
            Ok(()) => Reply::Ok,
            Err((rule, why)) => Reply::Error(format!("ERR Error in ACL SETUSER modifier '{rule}': {why}").into()),
        }
    }
}

/// `ACL GETUSER username`: flags, passwords, commands, keys, channels, selectors (and
/// edgekv's namespaces).
pub struct AclGetuser {
    name: String,
}

impl Command for AclGetuser {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(AclGetuser {
            name: text(&Args::after_sub(args.all()).next()?),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(u) = ctx.shared.acl.get(&self.name) else {
            return Reply::Nil;
        };
        let mut flags = vec![Reply::bulk_str(if u.enabled { "on" } else { "off" })];
        if u.nopass {
            flags.push(Reply::bulk_str("nopass"));
        }
        // A set in RESP3, as Redis sends the flags.
        let flags = Reply::Set(flags);
        let passwords = u
            .passwords
            .iter()
            .map(|p| Reply::bulk(p.iter().map(|b| format!("{b:02x}")).collect::<String>()))
            .collect();
        let mut out = vec![
            (Reply::bulk_str("flags"), flags),
            (Reply::bulk_str("passwords"), Reply::Array(passwords)),
            (Reply::bulk_str("commands"), Reply::bulk(u.describe_commands())),
            (Reply::bulk_str("keys"), Reply::bulk(u.describe_keys())),
            (
                Reply::bulk_str("channels"),
                Reply::bulk(if u.all_channels {
                    "&*".to_string()
                } else {
                    u.channels
                        .iter()
                        .map(|c| format!("&{}", text(c)))
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
            ),
            (Reply::bulk_str("selectors"), Reply::Array(Vec::new())),
        ];
        // edgekv's own field, only for scoped users (so a client written for Redis sees
        // Redis's shape for everyone else).
        if let Some(ns) = &u.namespaces {
            out.push((
                Reply::bulk_str("namespaces"),
                Reply::Array(ns.iter().map(|n| Reply::bulk_str(n)).collect()),
            ));
        }
        Reply::Map(out)
    }
}

/// `ACL DELUSER username [username ...]`
pub struct AclDeluser {
    names: Vec<String>,
}

impl Command for AclDeluser {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        Ok(AclDeluser {
            names: Args::after_sub(args.all()).rest().iter().map(|n| text(n)).collect(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.names.iter().any(|n| n == "default") {
            return err("ERR The 'default' user cannot be removed");
        }
        let n = ctx.shared.acl.delete(&self.names);
        // Their connections are closed, as Redis does (this one after its reply, when it
        // sends its next command: command::dispatch).
        let me = ctx.session.handle.id;
        let clients: Vec<_> = ctx.shared.clients.lock().values().cloned().collect();
        for c in clients {
            if c.id != me && self.names.iter().any(|n| *n == *c.user.lock()) {
                c.kill();
            }
        }
        Reply::Int(n as i64)
    }
}

/// `ACL LIST`: one rule line per user.
pub struct AclList;

impl Command for AclList {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclList)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Array(
            ctx.shared
                .acl
                .all()
                .iter()
                .map(|u| Reply::bulk(format!("user {} {}", u.name, u.describe())))
                .collect(),
        )
    }
}

/// `ACL USERS`
pub struct AclUsers;

impl Command for AclUsers {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclUsers)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::Array(ctx.shared.acl.names().into_iter().map(Reply::bulk).collect())
    }
}

/// `ACL WHOAMI`
pub struct AclWhoami;

impl Command for AclWhoami {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclWhoami)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        Reply::bulk(ctx.session.user.name.clone())
    }
}

/// `ACL CAT [category]`
pub struct AclCat {
    category: Option<Bytes>,
}

impl Command for AclCat {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let category = a.next_opt();
        if !a.is_empty() {
            return Err(crate::errors::subcommand_syntax("acl", &args.all()[1]));
        }
        Ok(AclCat { category })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        match self.category {
            None => Reply::Array(CATEGORIES.iter().map(|c| Reply::bulk_str(c)).collect()),
            Some(c) => {
                let name = text(&c).to_ascii_lowercase();
                if !CATEGORIES.contains(&name.as_str()) {
                    return Reply::Error(format!("ERR Unknown category '{}'", text(&c)).into());
                }
                let tag = format!("@{name}");
                Reply::Array(
                    table::all()
                        .iter()
                        .filter(|s| s.categories.contains(&tag.as_str()))
                        .map(|s| Reply::bulk_str(s.fullname))
                        .collect(),
                )
            }
        }
    }
}

/// `ACL LOG [count | RESET]`
pub struct AclLog {
    count: Option<i64>,
    reset: bool,
}

impl Command for AclLog {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let mut l = AclLog {
            count: None,
            reset: false,
        };
        if a.remaining() > 1 {
            return Err(crate::errors::subcommand_syntax("acl", &args.all()[1]));
        }
        if let Some(x) = a.next_opt() {
            if is(&x, "reset") {
                l.reset = true;
            } else {
                // A negative count lists nothing, as in Redis.
                l.count = Some(
                    crate::num::parse_i64(&x)
                        .ok_or_else(|| err(errors::NOT_INTEGER))?
                        .max(0),
                );
            }
        }
        Ok(l)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        if self.reset {
            ctx.shared.acl.log_reset();
            return Reply::Ok;
        }
        let now = crate::store::now_ms();
        let entries = ctx.shared.acl.log_entries();
        let n = self.count.map_or(10, |c| c as usize);
        Reply::Array(
            entries
                .into_iter()
                .take(n)
                .map(|e| {
                    Reply::Map(vec![
                        (Reply::bulk_str("count"), Reply::Int(e.count as i64)),
                        (Reply::bulk_str("reason"), Reply::bulk_str(e.reason)),
                        (Reply::bulk_str("context"), Reply::bulk_str(e.context)),
                        (Reply::bulk_str("object"), Reply::bulk(e.object)),
                        (Reply::bulk_str("username"), Reply::bulk(e.username)),
                        (
                            Reply::bulk_str("age-seconds"),
                            Reply::Double((now - e.created_ms) as f64 / 1000.0),
                        ),
                        (Reply::bulk_str("client-info"), Reply::bulk(e.client_info)),
                    ])
                })
                .collect(),
        )
    }
}

/// An I/O error as C's strerror words it (Rust adds " (os error N)").
fn os_error(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

fn aclfile(ctx: &Ctx) -> Option<String> {
    ctx.shared.config.get("aclfile").filter(|f| !f.is_empty())
}

/// `ACL LOAD`: replaces the users with the aclfile's (all or nothing).
pub struct AclLoad;

impl Command for AclLoad {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclLoad)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(file) = aclfile(ctx) else {
            return err(NO_ACLFILE);
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                return Reply::Error(format!("ERR Error loading ACLs, opening file '{file}': {}", os_error(&e)).into())
            }
        };
        match Acl::parse_file(&file, &text) {
            Ok(users) => {
                ctx.shared.acl.replace(users);
                // Redis disconnects the clients of every user but default after a load.
                let me = ctx.session.handle.id;
                let clients: Vec<_> = ctx.shared.clients.lock().values().cloned().collect();
                for c in clients {
                    if c.id != me && *c.user.lock() != "default" {
                        c.kill();
                    }
                }
                Reply::Ok
            }
            Err(e) => Reply::Error(format!("ERR {e}").into()),
        }
    }
}

/// `ACL SAVE`: writes the users to the aclfile (temporary file, fsync, rename).
pub struct AclSave;

impl Command for AclSave {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclSave)
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(file) = aclfile(ctx) else {
            return err(NO_ACLFILE);
        };
        let text = ctx.shared.acl.render_file();
        let tmp = format!("{file}.tmp-{}", std::process::id());
        let r = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        })();
        match r {
            Ok(()) => Reply::Ok,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(file = %file, error = %e, "ACL SAVE failed");
                err("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
            }
        }
    }
}

/// `ACL GENPASS [bits]`: random hex, 256 bits by default.
pub struct AclGenpass {
    bits: i64,
}

impl Command for AclGenpass {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        let bits = match a.next_opt() {
            None => 256,
            Some(b) => match crate::num::parse_i64(&b) {
                Some(n) if (1..=4096).contains(&n) => n,
                Some(_) => return Err(err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")),
                None => return Err(err(errors::NOT_INTEGER)),
            },
        };
        Ok(AclGenpass { bits })
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        use rand::RngCore;
        let chars = ((self.bits + 3) / 4) as usize;
        let mut bytes = vec![0u8; chars.div_ceil(2)];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        hex.truncate(chars);
        Reply::bulk(hex)
    }
}

/// `ACL DRYRUN username command [arg ...]`
pub struct AclDryrun {
    name: String,
    argv: Vec<Bytes>,
}

impl Command for AclDryrun {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let mut a = Args::after_sub(args.all());
        Ok(AclDryrun {
            name: text(&a.next()?),
            argv: a.rest().to_vec(),
        })
    }
    fn execute(self, ctx: &mut Ctx) -> Reply {
        let Some(u) = ctx.shared.acl.get(&self.name) else {
            return Reply::Error(format!("ERR User '{}' not found", self.name).into());
        };
        let (idx, spec) = match super::resolve(&self.argv) {
            Ok(r) => r,
            // A known command with the wrong number of arguments says so.
            Err(rej) if rej.command.is_some() => return rej.reply,
            Err(_) => return Reply::Error(format!("ERR Command '{}' not found", text(&self.argv[0])).into()),
        };
        // AUTH, HELLO, QUIT and RESET always pass (no_auth commands).
        if spec.flags & table::flags::NO_AUTH != 0 {
            return Reply::Ok;
        }
        // As the command would run here: in this connection's selected namespace.
        match super::check_request(ctx.shared, &u, ctx.session.db, idx, spec, &self.argv) {
            Ok(()) => Reply::Ok,
            Err(crate::acl::Denied::Command) => Reply::bulk(format!(
                "This user has no permissions to run the '{}' command",
                spec.fullname
            )),
            Err(crate::acl::Denied::Key(k)) => {
                Reply::bulk(format!("This user has no permissions to access the '{}' key", text(&k)))
            }
            Err(crate::acl::Denied::Namespace(i)) => {
                Reply::bulk(format!("This user has no permissions to access namespace {i}"))
            }
        }
    }
}

/// `ACL HELP`
pub struct AclHelp;

impl Command for AclHelp {
    fn parse(_: &mut Args) -> Result<Self, Reply> {
        Ok(AclHelp)
    }
    fn execute(self, _: &mut Ctx) -> Reply {
        help(
            "acl",
            &[
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
            ],
        )
    }
}
