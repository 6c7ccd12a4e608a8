//! Every integration test, in one binary: one link of the crate instead of
//! one per file. Tests of all modules run concurrently in this one process.

mod common;

mod backfill;
mod binary;
mod coaching;
mod compose_history;
mod counters;
mod dashboards_and_rules;
mod deploy;
mod end_to_end;
mod gong_faults;
mod hostile_clients;
mod install_test_tools;
mod layout;
mod prometheus_e2e;
mod settling;
mod web;
