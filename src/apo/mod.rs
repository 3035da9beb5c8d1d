//! The APO protocol, shared by the client, the sandbox and the receiver: signing and
//! verification, keys. It knows nothing about flows or HTTP servers.

pub mod keys;
pub mod sign;
