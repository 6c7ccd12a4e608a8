// gong-exporter's monitoring mixin: alerts, recording rules and dashboards,
// as kube-prometheus and Grafana Cloud consume mixins.
//
//   prometheusAlerts   the exporter's health and the coaching alerts
//   prometheusRules    the team aggregates the dashboards and alerts read
//   grafanaDashboards  the four dashboards, by file name
//
// alerts/*.yml are generated from it (build.jsonnet), and
// deploy/kubernetes/prometheusrule.yaml from those; tests/it/mixin.rs and
// tests/it/deploy.rs fail when either is out of date.
(import 'config.libsonnet')
+ (import 'alerts/exporter.libsonnet')
+ (import 'alerts/coaching.libsonnet')
+ (import 'rules/teams.libsonnet')
+ (import 'dashboards.libsonnet')
