// The files generated from the mixin, by name:
//   jsonnet -S -m alerts mixin/build.jsonnet
// tests/it/mixin.rs runs it and compares (GONG_EXPORTER_BLESS=1 writes).
local mixin = import 'mixin.libsonnet';

local group(groups, name) = [g for g in groups if g.name == name];
local file(about, groups) =
  '# ' + about + '\n'
  + '# Generated from mixin/ (jsonnet), where each rule says why it is so; do\n'
  + '# not edit: change mixin/ and run GONG_EXPORTER_BLESS=1 cargo test --test it mixin::\n'
  + std.manifestYamlDoc({ groups: groups }, indent_array_in_object=true, quote_keys=false)
  + '\n';

{
  'gong-exporter.yml': file(
    'Health of gong-exporter itself.',
    group(mixin.prometheusAlerts.groups, 'gong-exporter'),
  ),
  'gong-coaching.yml': file(
    'Coaching and activity alerts. Needs alerts/gong-recording.yml.',
    group(mixin.prometheusAlerts.groups, 'gong-coaching'),
  ),
  'gong-recording.yml': file(
    'Team aggregates for the dashboards and the coaching alerts. Load this file wherever dashboards or alerts/gong-coaching.yml are used.',
    mixin.prometheusRules.groups,
  ),
}
