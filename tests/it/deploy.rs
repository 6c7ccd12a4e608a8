//! Packaging files, checked without Docker or Kubernetes (neither runs in
//! CI): the Dockerfile, the compose demo stack, the Kubernetes manifests, and
//! the PrometheusRule kept in sync with alerts/.

use std::process::Command;

use crate::common::grafana::{repo_path, rule_files, rules};
use serde_yaml_ng::{Mapping, Value};

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, key| match key.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[key],
    })
}

fn text(v: &Value, path: &str) -> String {
    get(v, path).as_str().unwrap_or_else(|| panic!("{path} is not a string: {:?}", get(v, path))).to_owned()
}

/// The PrometheusRule for alerts/*.yml, as deploy/kubernetes/prometheusrule.yaml holds it.
fn generated_prometheus_rule() -> String {
    let mut groups = Vec::new();
    for (name, source) in rule_files() {
        let file: Value = serde_yaml_ng::from_str(&source).unwrap_or_else(|e| panic!("alerts/{name}: {e}"));
        groups.extend(file["groups"].as_sequence().unwrap().iter().cloned());
    }
    let mut labels = Mapping::new();
    labels.insert("app.kubernetes.io/name".into(), "gong-exporter".into());
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), "gong-exporter".into());
    metadata.insert("labels".into(), Value::Mapping(labels));
    let mut spec = Mapping::new();
    spec.insert("groups".into(), Value::Sequence(groups));
    let mut rule = Mapping::new();
    rule.insert("apiVersion".into(), "monitoring.coreos.com/v1".into());
    rule.insert("kind".into(), "PrometheusRule".into());
    rule.insert("metadata".into(), Value::Mapping(metadata));
    rule.insert("spec".into(), Value::Mapping(spec));
    format!(
        "# Generated from alerts/*.yml; do not edit. Regenerate: GONG_EXPORTER_BLESS=1 cargo test --test it deploy::\n{}",
        serde_yaml_ng::to_string(&Value::Mapping(rule)).unwrap()
    )
}

#[test]
fn prometheus_rule_is_in_sync_with_alerts() {
    let expected = generated_prometheus_rule();
    let path = repo_path("deploy/kubernetes/prometheusrule.yaml");
    if std::env::var_os("GONG_EXPORTER_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "deploy/kubernetes/prometheusrule.yaml is out of date with alerts/: run GONG_EXPORTER_BLESS=1 cargo test --test it deploy::"
    );
    let rule = yaml("deploy/kubernetes/prometheusrule.yaml");
    let names: Vec<String> = get(&rule, "spec.groups")
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect();
    let in_alerts: Vec<String> = rules().iter().filter_map(|(_, r)| r["alert"].as_str().map(str::to_owned)).collect();
    assert!(names.contains(&"GongCoachingActivityDrop".to_owned()), "{names:?}");
    assert_eq!(names, in_alerts, "every alert of alerts/, in order");
}

#[test]
fn dockerfile_builds_a_static_non_root_image_from_source() {
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    let instructions: Vec<(String, String)> = dockerfile
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_uppercase(), rest.trim().to_owned())
        })
        .collect();
    let from: Vec<&String> = instructions.iter().filter(|(op, _)| op == "FROM").map(|(_, a)| a).collect();
    assert!(from.len() >= 2, "multi-stage");
    assert!(from[0].contains("alpine"), "musl builder for a static binary: {}", from[0]);
    let last = from.last().unwrap();
    assert!(last.contains("distroless/static") || last.starts_with("scratch"), "small final image: {last}");
    let final_stage: Vec<&(String, String)> =
        instructions.iter().skip_while(|(op, a)| !(op == "FROM" && a == *last)).collect();
    let user =
        final_stage.iter().find(|(op, _)| op == "USER").map(|(_, a)| a.as_str()).expect("USER in the final stage");
    assert!(!user.starts_with("root") && !user.starts_with("0"), "non-root: {user}");
    assert!(final_stage.iter().any(|(op, a)| op == "EXPOSE" && a == "9863"));
    let entrypoint = final_stage.iter().find(|(op, _)| op == "ENTRYPOINT").map(|(_, a)| a.as_str()).unwrap();
    assert!(entrypoint.starts_with('['), "exec form: {entrypoint}");
    let labels: String = final_stage.iter().filter(|(op, _)| op == "LABEL").map(|(_, a)| a.as_str()).collect();
    for label in ["title", "description", "version", "revision", "licenses", "source"] {
        assert!(labels.contains(&format!("org.opencontainers.image.{label}=")), "OCI label {label}");
    }
    // A health check that works in distroless (no shell, no curl): the
    // binary's own subcommand, which the CLI knows.
    let healthcheck = final_stage.iter().find(|(op, _)| op == "HEALTHCHECK").map(|(_, a)| a.as_str()).unwrap();
    assert!(healthcheck.contains("CMD [\"/gong-exporter\", \"healthcheck\""), "{healthcheck}");
    <gong_exporter::cli::Cli as clap::Parser>::try_parse_from(["gong-exporter", "healthcheck"]).expect("subcommand");
    // Dependencies are built in a layer of their own, before the sources.
    let build_steps: Vec<&str> = instructions.iter().filter(|(op, _)| op == "RUN").map(|(_, a)| a.as_str()).collect();
    let copy_src = instructions.iter().position(|(op, a)| op == "COPY" && a.starts_with("src ")).unwrap();
    let deps = instructions.iter().position(|(op, a)| op == "RUN" && a.contains("cargo build")).unwrap();
    assert!(deps < copy_src, "a cargo build of the dependencies before COPY src: {build_steps:?}");
    // Compose passes the revision it builds.
    let compose = yaml("docker-compose.yml");
    assert!(get(&compose, "services.gong-exporter.build.args.GIT_REVISION").is_string());
    // What the build copies exists, and .dockerignore keeps the rest out.
    for (op, args) in &instructions {
        if op == "COPY" && !args.starts_with("--from") {
            let parts: Vec<&str> = args.split_whitespace().collect();
            for source in &parts[..parts.len() - 1] {
                assert!(repo_path(source).exists(), "COPY {source}: missing");
            }
        }
    }
    let ignore = std::fs::read_to_string(repo_path(".dockerignore")).unwrap();
    for excluded in ["target", ".git"] {
        assert!(ignore.lines().any(|l| l.trim() == excluded), ".dockerignore: {excluded}");
    }
}

#[test]
fn compose_stack_wires_exporter_prometheus_and_grafana() {
    let compose = yaml("docker-compose.yml");
    let services = get(&compose, "services");
    let exporter = &services["gong-exporter"];
    assert_eq!(text(exporter, "build.context"), ".");
    let command: Vec<String> =
        exporter["command"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    assert!(command.iter().any(|a| a == "--demo"));
    let cli = <gong_exporter::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("gong-exporter".to_owned()).chain(command),
    )
    .expect("the compose command parses");
    let config = gong_exporter::config::Config::from_args(cli.exporter).expect("the compose command is valid");
    let state = config.storage_path.expect("the demo keeps counter state");
    for (service, port) in [("gong-exporter", "9863:9863"), ("prometheus", "9090:9090"), ("grafana", "3000:3000")] {
        assert!(services[service]["ports"].as_sequence().unwrap().iter().any(|p| p == port), "{service} {port}");
    }
    let mut mounts = std::collections::BTreeMap::new();
    for (name, service) in services.as_mapping().unwrap() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let spec = volume.as_str().unwrap();
            let (source, target) = spec.split_once(':').unwrap();
            let target = target.trim_end_matches(":ro");
            if source.starts_with("./") {
                assert!(repo_path(source.trim_start_matches("./")).exists(), "{name:?}: {source} does not exist");
            } else {
                assert!(compose["volumes"].get(source).is_some(), "{name:?}: named volume {source} is not declared");
            }
            mounts.insert(target.to_owned(), source.to_owned());
        }
    }
    assert!(mounts.contains_key(state.to_str().unwrap()), "a volume holds --storage.path");
    // Prometheus loads every rule file and scrapes the exporter by its service name.
    let prometheus = yaml("deploy/compose/prometheus.yml");
    assert_eq!(mounts["/etc/prometheus/alerts"], "./alerts");
    assert_eq!(text(&prometheus, "rule_files.0"), "alerts/*.yml");
    assert_eq!(text(&prometheus, "scrape_configs.0.job_name"), "gong-exporter");
    assert_eq!(text(&prometheus, "scrape_configs.0.static_configs.0.targets.0"), "gong-exporter:9863");
    // Grafana's datasource is the prometheus service; its dashboards are dashboards/.
    let datasources = yaml("deploy/compose/grafana/datasources.yml");
    assert_eq!(text(&datasources, "datasources.0.type"), "prometheus");
    assert_eq!(text(&datasources, "datasources.0.url"), "http://prometheus:9090");
    assert_eq!(get(&datasources, "datasources.0.isDefault"), &Value::Bool(true));
    let providers = yaml("deploy/compose/grafana/dashboards.yml");
    let dashboards_path = text(&providers, "providers.0.options.path");
    assert_eq!(mounts[&dashboards_path], "./dashboards");
    let home = text(&services["grafana"], "environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
    assert!(repo_path(&home.replace(&dashboards_path, "dashboards")).exists(), "{home}");

    // The rule_files glob, resolved through the stack's mounts, is every
    // rule file in alerts/ (a glob matching nothing passes promtool).
    let glob = text(&prometheus, "rule_files.0");
    let container_dir = std::path::Path::new("/etc/prometheus").join(glob.rsplit_once('/').unwrap().0);
    let host_dir = mounts[container_dir.to_str().unwrap()].trim_start_matches("./").to_owned();
    assert_eq!(rule_file_names(&host_dir), rule_file_names("alerts"));
    if let Ok(out) =
        Command::new("promtool").args(["check", "config"]).arg(repo_path("deploy/compose/prometheus.yml")).output()
    {
        assert!(out.status.success(), "promtool check config: {}", String::from_utf8_lossy(&out.stderr));
        // Outside the stack, deploy/compose/alerts links to alerts/.
        let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        for name in rule_file_names("alerts") {
            assert!(
                report.contains(&format!("deploy/compose/alerts/{name}")),
                "promtool did not check {name}:\n{report}"
            );
        }
    } else {
        assert!(std::env::var_os("GONG_EXPORTER_REQUIRE_TOOLS").is_none(), "promtool is required");
        eprintln!("SKIPPED promtool check config: promtool not installed");
    }
}

/// The `*.yml` rule files directly in `dir` (relative to the repository).
fn rule_file_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{dir}: {names:?}");
    names
}

#[test]
fn one_scrape_job_name_everywhere_and_one_rule_selects_it() {
    // The only selector of the job in the rules.
    let exprs: Vec<String> = rules().iter().filter_map(|(_, r)| r["expr"].as_str().map(str::to_owned)).collect();
    let selecting: Vec<&String> = exprs.iter().filter(|e| e.contains("job=")).collect();
    assert_eq!(selecting.len(), 1, "the job is named in one place only: {selecting:?}");
    let job = selecting[0].split("up{job=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a job selector");
    // README's scrape example, the compose stack and the Kubernetes Service
    // (the Prometheus Operator's job label) use that name.
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let readme_jobs: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- job_name: "))
        .map(|j| j.split_whitespace().next().unwrap())
        .collect();
    assert!(!readme_jobs.is_empty() && readme_jobs.iter().all(|j| *j == job), "README: {readme_jobs:?}, rules: {job}");
    assert_eq!(text(&yaml("deploy/compose/prometheus.yml"), "scrape_configs.0.job_name"), job);
    assert_eq!(text(&yaml("deploy/kubernetes/service.yaml"), "metadata.name"), job);
    assert!(get(&yaml("deploy/kubernetes/servicemonitor.yaml"), "spec").get("jobLabel").is_none());
}

#[test]
fn kubernetes_manifests_agree_with_each_other_and_the_binary() {
    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    let service = yaml("deploy/kubernetes/service.yaml");
    let monitor = yaml("deploy/kubernetes/servicemonitor.yaml");
    let secret = yaml("deploy/kubernetes/secret.example.yaml");
    let kustomization = yaml("deploy/kubernetes/kustomization.yaml");

    assert_eq!(get(&deployment, "spec.replicas").as_u64(), Some(1), "one poller per company");
    let pod = get(&deployment, "spec.template.spec");
    let container = get(pod, "containers.0");
    assert_eq!(get(pod, "securityContext.runAsNonRoot"), &Value::Bool(true));
    assert_eq!(get(container, "securityContext.readOnlyRootFilesystem"), &Value::Bool(true));
    assert_eq!(get(container, "securityContext.allowPrivilegeEscalation"), &Value::Bool(false));
    assert_eq!(text(container, "securityContext.capabilities.drop.0"), "ALL");
    assert!(
        get(container, "resources.requests.memory").is_string()
            && get(container, "resources.limits.memory").is_string()
    );
    assert_eq!(text(container, "livenessProbe.httpGet.path"), "/-/healthy");
    assert_eq!(text(container, "readinessProbe.httpGet.path"), "/-/ready");
    let port_name = text(container, "ports.0.name");
    assert_eq!(get(container, "ports.0.containerPort").as_u64(), Some(9863));
    assert_eq!(text(container, "livenessProbe.httpGet.port"), port_name);
    // The flags the Deployment passes parse.
    let args: Vec<String> =
        container["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    let mut argv = vec!["gong-exporter".to_owned()];
    argv.extend(args);
    assert!(
        !argv.iter().any(|a| a.starts_with("--gong.base-url")),
        "every company has its own API host: it comes from the Secret, not a hard-coded flag"
    );
    let cli = <gong_exporter::cli::Cli as clap::Parser>::try_parse_from(argv).expect("Deployment args parse");
    assert_eq!(cli.exporter.listen_addresses[0].port(), 9863);
    let env_names: Vec<String> = container["env"].as_sequence().unwrap().iter().map(|e| text(e, "name")).collect();
    assert!(env_names.iter().any(|n| n == "GONG_BASE_URL"), "{env_names:?}");
    // The counter state lives on the claimed volume, writable by the pod's group.
    let pvc = yaml("deploy/kubernetes/pvc.yaml");
    let storage = cli.exporter.storage_path.expect("--storage.path is set");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| std::path::Path::new(&text(m, "mountPath")) == storage)
        .expect("a volume is mounted at --storage.path");
    let volume =
        pod["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == mount["name"]).expect("the mounted volume");
    assert_eq!(text(volume, "persistentVolumeClaim.claimName"), text(&pvc, "metadata.name"));
    assert_eq!(get(pod, "securityContext.fsGroup").as_u64(), Some(65532));
    // Secret keys are the env vars the binary reads.
    let secret_keys: Vec<&str> =
        secret["stringData"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    for env in container["env"].as_sequence().unwrap() {
        let key = text(env, "valueFrom.secretKeyRef.key");
        assert_eq!(text(env, "name"), key);
        assert!(secret_keys.contains(&key.as_str()), "{key} not in the example secret");
        assert_eq!(text(env, "valueFrom.secretKeyRef.name"), text(&secret, "metadata.name"));
    }
    // Service selects the pods and names the port; ServiceMonitor selects the Service.
    let pod_labels = get(&deployment, "spec.template.metadata.labels");
    for (k, v) in get(&service, "spec.selector").as_mapping().unwrap() {
        assert_eq!(&pod_labels[k], v);
    }
    assert_eq!(text(&service, "spec.ports.0.name"), text(&monitor, "spec.endpoints.0.port"));
    assert_eq!(text(&service, "spec.ports.0.targetPort"), port_name);
    for (k, v) in get(&monitor, "spec.selector.matchLabels").as_mapping().unwrap() {
        assert_eq!(&get(&service, "metadata.labels")[k], v);
    }
    assert_eq!(text(&monitor, "spec.endpoints.0.path"), "/metrics");
    for resource in get(&kustomization, "resources").as_sequence().unwrap() {
        assert!(repo_path(&format!("deploy/kubernetes/{}", resource.as_str().unwrap())).exists());
    }
}

#[test]
fn compose_fills_prometheus_history_before_prometheus_starts() {
    let compose = yaml("docker-compose.yml");
    let history = get(&compose, "services.history");
    let prometheus = get(&compose, "services.prometheus");
    assert_eq!(text(history, "build.target"), "demo-history");
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    assert!(dockerfile.contains("AS demo-history"), "the Dockerfile builds the history image");
    // The scripts compose runs are the ones tests/it/compose_history.rs runs.
    let volumes: Vec<&str> = history["volumes"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(volumes.contains(&"./deploy/compose/backfill.sh:/demo-history.sh:ro"), "{volumes:?}");
    let backfill = text(history, "environment.BACKFILL");
    assert!(volumes.contains(&format!("./scripts/backfill:{backfill}:ro").as_str()), "{volumes:?}");
    let command: Vec<&str> = history["command"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(command[0], "/demo-history.sh");
    // It fills the volume Prometheus then uses, with the stack's rules.
    let data = command[1];
    assert!(volumes.contains(&format!("prometheus-data:{data}").as_str()), "{volumes:?}");
    let rules = text(history, "environment.RULES");
    let rules_dir = rules.rsplit_once('/').unwrap().0;
    assert!(volumes.contains(&format!("./alerts:{rules_dir}:ro").as_str()), "{volumes:?}");
    let prom_volumes: Vec<&str> =
        prometheus["volumes"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(prom_volumes.contains(&format!("prometheus-data:{data}").as_str()), "{prom_volumes:?}");
    assert_eq!(text(prometheus, "depends_on.history.condition"), "service_completed_successfully");
    let flags: Vec<&str> = prometheus["command"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(flags.contains(&format!("--storage.tsdb.path={data}").as_str()), "{flags:?}");
    // The history needs no global flag: a shared Prometheus would refuse one.
    assert!(!flags.iter().any(|f| f.starts_with("--query.lookback-delta")), "{flags:?}");
}

#[test]
fn the_license_file_is_the_one_the_crate_and_image_declare() {
    let license = std::fs::read_to_string(repo_path("LICENSE")).expect("a LICENSE file");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    let manifest = std::fs::read_to_string(repo_path("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"Apache-2.0\""));
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    assert!(dockerfile.contains("org.opencontainers.image.licenses=\"Apache-2.0\""));
}

/// scripts/dist packs a release tarball as Prometheus exporters ship them;
/// the release workflow runs it on the binary its Docker build made.
#[test]
fn dist_packs_the_binary_docs_dashboards_and_alerts_with_a_checksum() {
    use std::os::unix::fs::PermissionsExt as _;
    let out = tempfile::tempdir().unwrap();
    // A stand-in: the debug binary is 180 MB, and what is packed is not
    // what this test is about.
    let binary = out.path().join("built");
    std::fs::write(&binary, "#!/bin/sh\necho gong-exporter\n").unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dist = || {
        std::process::Command::new(repo_path("scripts/dist"))
            .arg("--binary")
            .arg(&binary)
            .args(["--arch", "arm64", "--out"])
            .arg(out.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap()
    };
    let run = dist();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("gong-exporter-{version}.linux-arm64");
    let tarball = out.path().join(format!("{name}.tar.gz"));
    let list = std::process::Command::new("tar").arg("tzf").arg(&tarball).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for file in [
        "gong-exporter",
        "LICENSE",
        "README.md",
        "docs/runbook.md",
        "alerts/gong-exporter.yml",
        "dashboards/gong-team-activity.json",
        "scripts/backfill",
    ] {
        assert!(list.lines().any(|l| l == format!("{name}/{file}")), "{file} in {list}");
    }
    assert!(!list.contains("alerts/tests"), "rule unit tests stay out: {list}");
    // The packed backfill finds the binary beside it, with no GONG_EXPORTER
    // and no gong-exporter on PATH: only Prometheus's tools are missing.
    let unpacked = tempfile::tempdir().unwrap();
    let untar = std::process::Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(unpacked.path()).status();
    assert!(untar.unwrap().success());
    let backfill = std::process::Command::new(unpacked.path().join(&name).join("scripts/backfill"))
        .args(["--from", "2026-11-01", "--to", "2026-11-08", "--tsdb"])
        .arg(unpacked.path().join("blocks"))
        .env("PATH", "/usr/bin:/bin")
        .env_remove("GONG_EXPORTER")
        .env("PROMTOOL", "/nonexistent/promtool")
        .env("PROMETHEUS", "/nonexistent/prometheus")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&backfill.stderr);
    assert!(said.contains("missing: promtool"), "{said}");
    assert!(!said.contains("gong-exporter ("), "the packed binary was found: {said}");
    let check = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("sha256sums.txt")
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    // Reproducible: the same inputs give the same bytes.
    let first = std::fs::read(&tarball).unwrap();
    assert!(dist().status.success());
    assert_eq!(std::fs::read(&tarball).unwrap(), first, "a second run writes the same tarball");
    let sums = std::fs::read_to_string(out.path().join("sha256sums.txt")).unwrap();
    assert_eq!(sums.lines().count(), 1, "one line per tarball: {sums}");
}

/// The release workflow builds both architectures natively, packs them with
/// scripts/dist from the Dockerfile's `binary` stage, and pushes one image.
#[test]
fn the_release_workflow_ships_both_architectures_from_the_dockerfile() {
    let workflow = std::fs::read_to_string(repo_path(".github/workflows/release.yml")).unwrap();
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM scratch AS binary"), "the Dockerfile has the binary stage");
    for needed in
        ["arch: amd64", "arch: arm64", "target: binary", "scripts/dist --binary", "imagetools create", "sha256sum"]
    {
        assert!(workflow.contains(needed), "release.yml: {needed}");
    }
}

/// Grafana's dashboard sidecar loads ConfigMaps labelled
/// `grafana_dashboard: "1"`: kustomize generates one per dashboard from
/// dashboards/*.json itself (no copy to drift), and the Kubernetes
/// kustomization includes them.
#[test]
fn every_dashboard_is_a_configmap_for_grafanas_sidecar() {
    let kustomization = yaml("dashboards/kustomization.yaml");
    assert_eq!(text(&kustomization, "generatorOptions.labels.grafana_dashboard"), "1");
    assert_eq!(get(&kustomization, "generatorOptions.disableNameSuffixHash"), &Value::Bool(true), "stable names");
    let mut listed = Vec::new();
    for generator in get(&kustomization, "configMapGenerator").as_sequence().unwrap() {
        let files: Vec<&str> = generator["files"].as_sequence().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(files.len(), 1, "one dashboard per ConfigMap (the 256 KiB apply annotation): {files:?}");
        let size = std::fs::metadata(repo_path(&format!("dashboards/{}", files[0]))).unwrap().len();
        assert!(size < 200_000, "{}: {size} bytes, near the 256 KiB annotation limit", files[0]);
        let name = generator["name"].as_str().unwrap();
        assert!(name.starts_with("gong-exporter-dashboard-") && name.len() <= 63, "{name}");
        listed.extend(files.into_iter().map(str::to_owned));
    }
    listed.sort();
    let shipped: Vec<String> = crate::common::grafana::dashboards().into_iter().map(|(name, _)| name).collect();
    assert_eq!(listed, shipped, "every dashboards/*.json, once");
    let resources = get(&yaml("deploy/kubernetes/kustomization.yaml"), "resources").clone();
    assert!(resources.as_sequence().unwrap().iter().any(|r| r.as_str() == Some("../../dashboards")), "{resources:?}");
}
