//! Users: `GET /v2/users`, once a day and again when a stats answer names
//! a user the last list lacked. `gong_user_info{user_id,...,manager_id} 1`
//! is for joins (a team's dashboards group reps by manager), and the
//! coaching collector takes its managers from this list.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::MetricType;
use serde::Deserialize;
use tokio::time::Instant;

use super::Families;
use super::labels::{CACHED, LabelOptions, OptionalId, label};
use crate::endpoint::Endpoint;
use crate::gong::models::{GongId, Listed, Record, Records, Unusable, impl_page, null_as_default, short_labels};
use crate::gong::{Fetched, GongClient, GongError, Query};

/// `GET /v2/users`, all pages.
pub async fn fetch(client: &GongClient, deadline: Instant) -> Result<Fetched<GongUser>, GongError> {
    client.fetch_all::<UsersPage>(Endpoint::Users, Query::Get(Vec::new()), deadline).await
}

/// One page of `GET /v2/users`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub users: Listed<GongUser>,
}

/// A Gong user, with the fields the exporter uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GongUser {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub first_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    pub manager_id: Option<GongId>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: bool,
}

impl Record for GongUser {
    fn key(&self) -> Option<u64> {
        Some(self.id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels([
            self.email_address.as_str(),
            self.first_name.as_str(),
            self.last_name.as_str(),
            self.title.as_str(),
        ])
    }
}

impl_page!(UsersPage, GongUser, users);

/// One user from `GET /v2/users`.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub id: GongId,
    pub email: String,
    pub name: String,
    pub manager_id: Option<GongId>,
    pub title: String,
    pub active: bool,
}

/// All users.
#[derive(Debug, Clone, Default)]
pub struct UserTable {
    pub users: Vec<UserInfo>,
}

impl UserTable {
    /// Builds the table; a user listed twice (pages shifting while paging)
    /// keeps its first entry so `gong_user_info` has one series per user.
    pub fn build(users: Vec<GongUser>) -> Self {
        let mut seen = std::collections::HashSet::with_capacity(users.len());
        let users = users
            .into_iter()
            .filter(|u| seen.insert(u.id))
            .map(|u| UserInfo {
                id: u.id,
                name: format!("{} {}", u.first_name.trim(), u.last_name.trim()).trim().to_owned(),
                email: u.email_address,
                manager_id: u.manager_id,
                title: u.title,
                active: u.active,
            })
            .collect();
        Self { users }
    }
}

struct UserInfoSeries<'a> {
    user: &'a UserInfo,
    include_email: bool,
}

impl EncodeLabelSet for UserInfoSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        let u = self.user;
        label(encoder, "user_id", u.id)?;
        if self.include_email {
            label(encoder, "user_email", u.email.as_str())?;
        }
        label(encoder, "user_name", u.name.as_str())?;
        label(encoder, "manager_id", OptionalId(u.manager_id))?;
        label(encoder, "title", u.title.as_str())?;
        label(encoder, "active", if u.active { "true" } else { "false" })
    }
}

impl Families for UserTable {
    fn encode(&self, labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let help = format!(
            "One series per Gong user (value 1), for joins: * on(user_id) group_left(manager_id) gong_user_info. {CACHED}"
        );
        let mut family = encoder.encode_descriptor("gong_user_info", &help, None, MetricType::Gauge)?;
        for user in &self.users {
            family.encode_family(&UserInfoSeries { user, include_email: labels.include_email })?.encode_gauge(&1i64)?;
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.users.len()
    }
}
