//! One integration test binary (see matklad's "Delete Cargo Integration
//! Tests"): modules share the helpers in `support`.

mod binary;
mod cluster;
mod cluster_labels;
mod cluster_real;
mod corpus;
mod discover;
mod extract_corpus;
mod fleet;
mod fulltext;
mod hostile;
mod http;
mod lean;
mod names;
mod ops;
mod pages;
mod pipeline;
mod poller;
mod publish;
mod realworld;
mod recovery;
mod revise;
mod support;
mod tls_chain;
