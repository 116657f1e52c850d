//! The argument cursor every command parses with. Argument errors come only from here, so
//! their texts stay Redis's.

use crate::errors;
use crate::num;
use crate::protocol::Reply;
use bytes::Bytes;

pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor over `argv`, positioned after the command name.
    pub fn new(argv: &'a [Bytes]) -> Self {
        Args { argv, pos: 1 }
    }

    /// A cursor positioned after a container's subcommand (`CLIENT SETNAME` → at the name).
    pub fn after_sub(argv: &'a [Bytes]) -> Self {
        Args { argv, pos: 2 }
    }

    pub fn all(&self) -> &'a [Bytes] {
        self.argv
    }

    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument; a missing one is a syntax error.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Bytes, Reply> {
        self.next_opt().ok_or_else(|| errors::err(errors::SYNTAX))
    }

    pub fn next_opt(&mut self) -> Option<Bytes> {
        let a = self.argv.get(self.pos)?.clone();
        self.pos += 1;
        Some(a)
    }

    pub fn peek(&self) -> Option<&'a Bytes> {
        self.argv.get(self.pos)
    }

    /// Every argument left, consumed.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = &self.argv[self.pos..];
        self.pos = self.argv.len();
        r
    }

    /// The next argument as an integer (`ERR value is not an integer or out of range`).
    pub fn i64(&mut self) -> Result<i64, Reply> {
        let a = self.next()?;
        parse_i64(&a)
    }

    /// The next argument as a float (`ERR value is not a valid float`).
    pub fn f64(&mut self) -> Result<f64, Reply> {
        let a = self.next()?;
        num::parse_f64(&a).ok_or_else(|| errors::err(errors::NOT_FLOAT))
    }

    /// Fails with a syntax error if arguments are left over.
    pub fn finish(&self) -> Result<(), Reply> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(errors::err(errors::SYNTAX))
        }
    }
}

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn parse_i64(a: &[u8]) -> Result<i64, Reply> {
    num::parse_i64(a).ok_or_else(|| errors::err(errors::NOT_INTEGER))
}

/// Case-insensitive comparison of an argument with an option name.
#[inline]
pub fn is(a: &[u8], name: &str) -> bool {
    a.eq_ignore_ascii_case(name.as_bytes())
}
