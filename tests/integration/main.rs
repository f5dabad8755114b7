//! One integration test binary (see matklad's "Delete Cargo Integration
//! Tests"): modules share the helpers in `support`.

mod binary;
mod cluster;
mod corpus;
mod fleet;
mod hostile;
mod http;
mod ops;
mod pipeline;
mod poller;
mod publish;
mod support;
