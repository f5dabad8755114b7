//! One integration test binary (see matklad's "Delete Cargo Integration
//! Tests"): modules share the helpers in `support`.

mod binary;
mod http;
mod pipeline;
mod poller;
mod support;
