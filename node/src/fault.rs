//! What kind of failure an error is, for whoever reports it.
//!
//! Every error type of the node's parts (the store, the ledger, consents,
//! the daemon) says what happened (its `Display`), what to do about it
//! ([`Fault::hint`]) and which [`Code`] it is: whose move it is, and whether
//! trying again can help. The local API turns a code into its HTTP status
//! and its stable error code in one place (`api::errors`); nothing below the
//! API knows either.

/// The kind of a failure, by what the one who asked can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// What was asked for does not exist, or no longer does.
    NotFound,
    /// The request is malformed or names something invalid: it must change.
    Invalid,
    /// The request is well formed but not allowed as things stand (a
    /// consent that does not cover the share, a ledger that does not verify).
    Refused,
    /// No node is known to serve the recipient's national id.
    UnknownRecipient,
    /// The directory holds no record for the national id asked for.
    NotPublished,
    /// The address book holds no entry for the peer named.
    UnknownPeer,
    /// The network could not be asked (the directory did not answer):
    /// trying again once the node reaches its bootstrap nodes may work.
    Unreachable,
    /// The node cannot do it now (a full disk, a task that is stopping):
    /// trying again later may work.
    Unavailable,
    /// Something failed inside the node (a damaged store, a bug): the
    /// daemon's log says more.
    Internal,
}

/// An error a user can be told about: what happened (`Display`), what to do
/// ([`Fault::hint`]), and its [`Code`].
pub trait Fault: std::error::Error {
    /// The kind of failure.
    fn code(&self) -> Code;
    /// What to do about it, in a sentence for the user.
    fn hint(&self) -> String;
}
