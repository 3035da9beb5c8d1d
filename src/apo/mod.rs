//! The APO protocol, shared by the client, the sandbox and the receiver: signing and
//! verification, keys and where they come from, endpoints, result codes, targets, and the client that talks to a target. It knows nothing about flows, and nothing
//! about HTTP servers.

pub mod client;
pub mod endpoint;
pub mod key_source;
pub mod keys;
pub mod notify;
pub mod result;
pub mod sign;
pub mod target;

pub use client::{ApoResponse, CallError, CallOptions, Client, ClientConfig};
pub use endpoint::Endpoint;
pub use result::{ResultCode, ResultStatus};
pub use target::Target;
