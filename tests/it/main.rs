//! Every integration test, in one binary: one link of the crate instead of
//! one per file. Tests of all modules run concurrently in this one process,
//! so none may measure the process as a whole: `hostile_clients` counts
//! only the descriptors on its exporter's port, every other test opening
//! and closing its own meanwhile; the tests that run Prometheus and those
//! timing Gong's traffic tightly keep apart ([`common::heavy`],
//! [`common::timed`]). An exporter started here is stopped when its
//! [`common::ExporterGuard`] drops, however the test ends.

mod common;

mod backfill;
mod binary;
mod coaching;
mod compose_history;
mod counters;
mod dashboards_and_rules;
mod deploy;
mod docs;
mod end_to_end;
mod gong_faults;
mod hostile_clients;
mod install_test_tools;
mod layout;
mod mixin;
mod oauth;
mod private_reviews;
mod prometheus_e2e;
mod scorecard_questions;
mod settling;
mod web;
