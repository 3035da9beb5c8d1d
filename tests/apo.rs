//! Integration tests of the APO protocol layer: interoperability with the official Python SDK,
//! the client against a local fake APO, the notification receiver, and the `keys` and `sign`
//! commands of the real binary. Every server is on 127.0.0.1 with an ephemeral port.

#[path = "apo/local.rs"]
mod local;
#[path = "support/mod.rs"]
mod support;

#[path = "apo/cli.rs"]
mod cli;
#[path = "apo/client.rs"]
mod client;
#[path = "apo/receiver.rs"]
mod receiver;
#[path = "apo/sdk.rs"]
mod sdk;
