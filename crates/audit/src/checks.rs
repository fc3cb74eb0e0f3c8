//! The checks over a network description, and the radio-algorithm rules the importers share.

use crate::model::*;
use crate::report::{toml_line, Location, Report};

/// A raised check before it gets a location: (ID, detail).
pub type Hit = (&'static str, String);

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// Null algorithm first → `preferred`; present elsewhere → `enabled`.
fn null_rule<T: RadioAlgorithm>(v: &[T], preferred: &'static str, enabled: &'static str, what: &str) -> Vec<Hit> {
    match v.iter().position(|a| a.is_null()) {
        Some(0) => vec![(preferred, format!("{what} order [{}] puts {} first", list(v), v[0]))],
        Some(i) => vec![(enabled, format!("{what} order [{}] includes {} (position {})", list(v), v[i], i + 1))],
        None => vec![],
    }
}

/// GSM A5 set (order does not matter: any weak member is offered to some device).
pub fn gsm_ciphering(v: &[A5]) -> Vec<Hit> {
    let mut out = Vec::new();
    let set = format!("[{}]", list(v));
    if v.contains(&A5::A50) {
        out.push(("WA-ALG-001", format!("A5 set {set} includes A5/0 (no ciphering)")));
    }
    if v.contains(&A5::A51) {
        out.push(("WA-ALG-002", format!("A5 set {set} includes A5/1")));
    }
    if v.contains(&A5::A52) {
        out.push(("WA-ALG-003", format!("A5 set {set} includes A5/2")));
    }
    if !v.contains(&A5::A53) && !v.contains(&A5::A54) {
        out.push(("WA-ALG-004", format!("A5 set {set} has neither A5/3 nor A5/4")));
    }
    out
}

/// GPRS GEA set.
pub fn gprs_ciphering(v: &[Gea]) -> Vec<Hit> {
    let set = format!("[{}]", list(v));
    let mut out = Vec::new();
    for (alg, id, why) in [
        (Gea::Gea0, "WA-ALG-005", "no ciphering"),
        (Gea::Gea1, "WA-ALG-006", "40-bit effective strength"),
        (Gea::Gea2, "WA-ALG-007", "weak"),
    ] {
        if v.contains(&alg) {
            out.push((id, format!("GEA set {set} includes {alg} ({why})")));
        }
    }
    out
}

/// UMTS ciphering order.
pub fn umts_ciphering(v: &[Uea]) -> Vec<Hit> {
    null_rule(v, "WA-ALG-010", "WA-ALG-011", "UEA")
}

/// UMTS integrity list.
pub fn umts_integrity(v: &[Uia]) -> Vec<Hit> {
    if v.is_empty() {
        vec![("WA-ALG-012", "no UIA algorithm is enabled".to_string())]
    } else {
        vec![]
    }
}

/// EPS (LTE, NB-IoT, LTE-M) ciphering order.
pub fn eps_ciphering(v: &[Eea]) -> Vec<Hit> {
    null_rule(v, "WA-ALG-013", "WA-ALG-014", "EEA")
}

/// EPS integrity order.
pub fn eps_integrity(v: &[Eia]) -> Vec<Hit> {
    null_rule(v, "WA-ALG-015", "WA-ALG-016", "EIA")
}

/// 5G ciphering order.
pub fn nr_ciphering(v: &[Nea]) -> Vec<Hit> {
    null_rule(v, "WA-ALG-017", "WA-ALG-018", "NEA")
}

/// 5G integrity order.
pub fn nr_integrity(v: &[Nia]) -> Vec<Hit> {
    null_rule(v, "WA-ALG-019", "WA-ALG-020", "NIA")
}

/// AuC algorithms in use (from the description or an importer).
pub fn auth_algorithms(v: &[AuthAlgorithm]) -> Vec<Hit> {
    let mut out = Vec::new();
    let comp: Vec<_> = v.iter().filter(|a| a.is_comp128()).collect();
    if !comp.is_empty() {
        out.push(("WA-ALG-030", format!("in use: {}", list(&comp))));
    }
    if v.contains(&AuthAlgorithm::Xor) {
        out.push(("WA-ALG-031", "in use: xor".to_string()));
    }
    out
}

/// Raises hits at `path` of the description.
struct Ctx<'a> {
    report: &'a mut Report,
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&mut self, path: &str, hits: Vec<Hit>) {
        for (id, detail) in hits {
            let location = Location {
                file: Some(self.file.to_string()),
                line: toml_line(self.text, path),
                path: path.to_string(),
            };
            self.report.raise(id, "description", location, detail);
        }
    }

    fn when(&mut self, cond: bool, id: &'static str, path: &str, detail: impl Into<String>) {
        if cond {
            self.at(path, vec![(id, detail.into())]);
        }
    }
}

/// Runs every description check. `file` and `text` locate findings (lines) in the description.
pub fn check_description(d: &Description, file: &str, text: &str, report: &mut Report) {
    report.input("description", file);
    let mut c = Ctx { report, file, text };
    radio(d, &mut c);
    auc(d, &mut c);
    iot_access(d, &mut c);
    transport(d, &mut c);
    uicc(d, &mut c);
    roaming(d, &mut c);
    portal(d, &mut c);
    operations(d, &mut c);
}

fn radio(d: &Description, c: &mut Ctx) {
    let r = &d.radio;
    if let Some(g) = &r.gsm {
        c.at("radio.gsm.ciphering", gsm_ciphering(&g.ciphering));
        if let Some(gea) = &g.gprs_ciphering {
            c.at("radio.gsm.gprs_ciphering", gprs_ciphering(gea));
        }
        c.when(
            !g.authentication_required,
            "WA-ALG-009",
            "radio.gsm.authentication_required",
            "authentication_required = false",
        );
        c.when(
            !g.false_base_station_detection,
            "WA-ALG-008",
            "radio.gsm.false_base_station_detection",
            "false_base_station_detection = false",
        );
    }
    if let Some(u) = &r.umts {
        c.at("radio.umts.ciphering", umts_ciphering(&u.ciphering));
        c.at("radio.umts.integrity", umts_integrity(&u.integrity));
    }
    if let Some(e) = &r.lte {
        c.at("radio.lte.ciphering", eps_ciphering(&e.ciphering));
        c.at("radio.lte.integrity", eps_integrity(&e.integrity));
    }
    for (name, e) in [("nb-iot", &r.nb_iot), ("lte-m", &r.lte_m)] {
        if let Some(e) = e {
            c.at(&format!("radio.{name}.ciphering"), eps_ciphering(&e.ciphering));
            c.at(&format!("radio.{name}.integrity"), eps_integrity(&e.integrity));
            c.when(
                !e.remote_sim_provisioning,
                "WA-ALG-021",
                &format!("radio.{name}.remote_sim_provisioning"),
                format!("{name}: remote_sim_provisioning = false"),
            );
        }
    }
    if let Some(n) = &r.nr {
        c.at("radio.nr.ciphering", nr_ciphering(&n.ciphering));
        c.at("radio.nr.integrity", nr_integrity(&n.integrity));
    }
}

fn auc(d: &Description, c: &mut Ctx) {
    let a = &d.auc;
    c.at("auc.algorithms", auth_algorithms(&a.algorithms));
    c.when(
        !a.algorithms.contains(&AuthAlgorithm::Milenage),
        "WA-ALG-032",
        "auc.algorithms",
        format!("algorithms [{}] do not include milenage", list(&a.algorithms)),
    );
    c.when(
        !a.algorithms.contains(&AuthAlgorithm::Tuak),
        "WA-ALG-035",
        "auc.algorithms",
        format!("algorithms [{}] do not include tuak", list(&a.algorithms)),
    );
    c.when(
        a.min_key_bits < 128,
        "WA-ALG-033",
        "auc.min_key_bits",
        format!("shortest subscriber key: {} bits", a.min_key_bits),
    );
    c.when(
        a.operator_key == OperatorKey::Op && a.algorithms.contains(&AuthAlgorithm::Milenage),
        "WA-ALG-034",
        "auc.operator_key",
        "operator_key = \"op\"",
    );
}

fn iot_access(d: &Description, c: &mut Ctx) {
    let l = &d.lpwa;
    if let Some(lora) = &l.lorawan {
        if lora.activation_modes.contains(&Activation::Abp) {
            c.at("lpwa.lorawan.activation_modes", vec![("WA-ALG-040", "the network server accepts ABP".into())]);
        }
        for (i, dev) in lora.devices.iter().enumerate() {
            if dev.activation == Activation::Abp {
                c.at(
                    &format!("lpwa.lorawan.devices[{i}].activation"),
                    vec![("WA-ALG-040", format!("device {} uses ABP", dev.dev_eui))],
                );
            }
        }
        // Shared AppKeys: equal fingerprints under the one salt.
        let mut by_fp: std::collections::BTreeMap<&str, Vec<(usize, &str)>> = Default::default();
        let mut unprinted = Vec::new();
        for (i, dev) in lora.devices.iter().enumerate() {
            match &dev.app_key_fingerprint {
                Some(f) => by_fp.entry(f.as_str()).or_default().push((i, dev.dev_eui.as_str())),
                None if dev.activation == Activation::Otaa => unprinted.push(dev.dev_eui.as_str()),
                None => {}
            }
        }
        for group in by_fp.values().filter(|g| g.len() > 1) {
            let euis: Vec<&str> = group.iter().map(|(_, e)| *e).collect();
            c.at(
                &format!("lpwa.lorawan.devices[{}].app_key_fingerprint", group[0].0),
                vec![("WA-ALG-041", format!("{} devices share one AppKey: {}", euis.len(), euis.join(", ")))],
            );
        }
        if !unprinted.is_empty() {
            c.at(
                "lpwa.lorawan.devices",
                vec![("WA-ALG-042", format!("no AppKey fingerprint for {}", unprinted.join(", ")))],
            );
        }
        c.when(
            !lora.device_certification_recorded,
            "WA-ALG-044",
            "lpwa.lorawan.device_certification_recorded",
            "LoRaWAN: device_certification_recorded = false",
        );
    }
    if let Some(s) = &l.sigfox {
        c.when(!s.payload_encryption, "WA-ALG-043", "lpwa.sigfox.payload_encryption", "payload_encryption = false");
        c.when(
            !s.device_certification_recorded,
            "WA-ALG-044",
            "lpwa.sigfox.device_certification_recorded",
            "Sigfox: device_certification_recorded = false",
        );
    }
    c.when(
        (l.lorawan.is_some() || l.sigfox.is_some()) && !l.tenants_informed,
        "WA-ALG-045",
        "lpwa.tenants_informed",
        "lpwa.tenants_informed is false or absent",
    );
    if let Some(m) = &d.messaging {
        let used: Vec<&str> = [("SMS", m.sms), ("USSD", m.ussd)].iter().filter(|x| x.1).map(|x| x.0).collect();
        c.when(
            !used.is_empty() && !m.tenants_warned,
            "WA-ALG-050",
            "messaging.tenants_warned",
            format!("IoT services use {} and tenants_warned = false", used.join(" and ")),
        );
    }
}

fn transport(d: &Description, c: &mut Ctx) {
    if let Some(w) = &d.wifi {
        let m = &w.eap_methods;
        let weak: Vec<_> =
            m.iter().filter(|x| matches!(x, EapMethod::Open | EapMethod::Psk | EapMethod::EapMd5)).collect();
        c.when(!weak.is_empty(), "WA-NET-001", "wifi.eap_methods", format!("accepted: {}", list(&weak)));
        let other: Vec<_> =
            m.iter().filter(|x| matches!(x, EapMethod::EapTls | EapMethod::EapTtls | EapMethod::Peap)).collect();
        c.when(!other.is_empty(), "WA-NET-002", "wifi.eap_methods", format!("non-SIM methods: {}", list(&other)));
        c.when(
            m.contains(&EapMethod::EapSim) && !m.contains(&EapMethod::EapAka) && !m.contains(&EapMethod::EapAkaPrime),
            "WA-NET-003",
            "wifi.eap_methods",
            "EAP-SIM without EAP-AKA or EAP-AKA'",
        );
    }
    let b = &d.backhaul;
    for tech in d.technologies() {
        let planes = match tech {
            "gsm" => &b.gsm,
            "umts" => &b.umts,
            "lte" => &b.lte,
            "nr" => &b.nr,
            "nb-iot" => &b.nb_iot,
            _ => &b.lte_m,
        };
        let Some(p) = planes else {
            c.at(
                &format!("radio.{tech}"),
                vec![("WA-NET-011", format!("{tech} is in use but [backhaul.{tech}] is missing"))],
            );
            continue;
        };
        for (plane, prot) in [
            ("user_plane", Some(p.user_plane)),
            ("signalling_plane", Some(p.signalling_plane)),
            ("management_plane", p.management_plane),
        ] {
            if prot == Some(Protection::None) {
                c.at(
                    &format!("backhaul.{tech}.{plane}"),
                    vec![("WA-NET-010", format!("{tech} {} is not encrypted", plane.replace('_', " ")))],
                );
            }
        }
    }
    for (i, link) in d.grx_ipx.iter().enumerate() {
        c.when(
            !link.private,
            "WA-NET-020",
            &format!("grx_ipx[{i}].private"),
            format!("{} link {:?} is not private (encryption: {})", link.kind, link.name, link.encryption),
        );
    }
    c.when(!d.qos.critical_high_priority, "WA-NET-030", "qos.critical_high_priority", "critical_high_priority = false");
}

fn uicc(d: &Description, c: &mut Ctx) {
    let u = &d.uicc;
    let o = &u.ota;
    c.when(
        matches!(o.security_level, OtaLevel::None | OtaLevel::RedundancyCheck),
        "WA-SUB-001",
        "uicc.ota.security_level",
        format!("OTA security level: {}", o.security_level),
    );
    c.when(!o.ciphering, "WA-SUB-002", "uicc.ota.ciphering", "ciphering = false");
    c.when(!o.counter_check, "WA-SUB-003", "uicc.ota.counter_check", "counter_check = false");
    let removable: Vec<_> = u.form_factors.iter().filter(|f| f.removable()).collect();
    c.when(
        u.tamper_exposed_devices && !removable.is_empty(),
        "WA-SUB-004",
        "uicc.form_factors",
        format!("tamper-exposed devices and removable form factors: {}", list(&removable)),
    );
    c.when(!u.tamper_detection, "WA-SUB-005", "uicc.tamper_detection", "tamper_detection = false");
    if let Some(e) = &u.euicc {
        c.when(
            matches!(e.remote_management, RemoteManagement::Proprietary | RemoteManagement::None),
            "WA-SUB-006",
            "uicc.euicc.remote_management",
            format!("remote_management = {:?}", e.remote_management.as_str()),
        );
    }
    for (i, s) in u.suppliers.iter().enumerate() {
        c.when(
            !s.sas_accredited,
            "WA-SUB-007",
            &format!("uicc.suppliers[{i}].sas_accredited"),
            format!("supplier {:?} is not SAS accredited", s.name),
        );
        c.when(
            !s.recorded_per_batch,
            "WA-SUB-008",
            &format!("uicc.suppliers[{i}].recorded_per_batch"),
            format!("supplier {:?}: accreditation not recorded per batch", s.name),
        );
    }
    c.when(u.tenant_services.is_empty(), "WA-SUB-009", "uicc.tenant_services", "no UICC-based tenant services");
}

fn roaming(d: &Description, c: &mut Ctx) {
    let r = &d.roaming;
    match &r.signalling_firewall {
        None => c.at("roaming", vec![("WA-ROAM-001", "no [roaming.signalling_firewall]".into())]),
        Some(fw) => {
            let path = "roaming.signalling_firewall.categories";
            c.when(!fw.categories.contains(&1), "WA-ROAM-002", path, "category 1 not screened");
            c.when(!fw.categories.contains(&2), "WA-ROAM-003", path, "category 2 not screened");
            c.when(!fw.categories.contains(&3), "WA-ROAM-004", path, "category 3 not screened");
            let techs = d.technologies();
            let mut needed = Vec::new();
            if techs.iter().any(|t| matches!(*t, "gsm" | "umts")) {
                needed.push((SignallingProtocol::Ss7, "2G/3G roaming"));
            }
            if techs.iter().any(|t| matches!(*t, "lte" | "nb-iot" | "lte-m")) {
                needed.push((SignallingProtocol::Diameter, "4G roaming"));
            }
            if techs.contains(&"nr") {
                needed.push((SignallingProtocol::Sepp, "5G roaming"));
            }
            if !d.grx_ipx.is_empty() {
                needed.push((SignallingProtocol::GtpC, "data roaming over GRX/IPX"));
            }
            for (p, why) in needed {
                c.when(
                    !fw.protocols.contains(&p),
                    "WA-ROAM-005",
                    "roaming.signalling_firewall.protocols",
                    format!("{p} is not screened but is used for {why}"),
                );
            }
        }
    }
    c.when(
        !r.hss_overload_protection,
        "WA-ROAM-006",
        "roaming.hss_overload_protection",
        "hss_overload_protection = false",
    );
    let mut storm = Vec::new();
    if !r.critical_priority_in_storms {
        storm.push("critical_priority_in_storms = false");
    }
    if !r.extended_access_barring {
        storm.push("extended_access_barring = false");
    }
    c.when(!storm.is_empty(), "WA-ROAM-007", "roaming.critical_priority_in_storms", storm.join(", "));
    c.when(!r.sinkhole, "WA-ROAM-008", "roaming.sinkhole", "sinkhole = false");
    c.when(
        r.steering_of_roaming == Steering::None,
        "WA-ROAM-009",
        "roaming.steering_of_roaming",
        "steering_of_roaming = \"none\"",
    );
    c.when(
        r.steering_of_roaming == Steering::Commercial,
        "WA-ROAM-010",
        "roaming.steering_of_roaming",
        "steering_of_roaming = \"commercial\"",
    );
    c.when(!r.gtp_firewall, "WA-ROAM-011", "roaming.gtp_firewall", "gtp_firewall = false");
    c.when(!r.gtp_rate_limits, "WA-ROAM-012", "roaming.gtp_rate_limits", "gtp_rate_limits = false");
}

/// Cipher-suite names: weak (`WA-SEC-003`) and without forward secrecy (`WA-SEC-004`).
pub fn classify_suites(suites: &[String]) -> (Vec<String>, Vec<String>) {
    let mut weak = Vec::new();
    let mut no_fs = Vec::new();
    for s in suites {
        let u = s.to_ascii_uppercase();
        if ["RC4", "DES", "NULL", "EXPORT", "ANON", "MD5"].iter().any(|w| u.contains(w)) {
            weak.push(s.clone());
        } else if u.starts_with("TLS_RSA_") {
            no_fs.push(s.clone());
        }
    }
    (weak, no_fs)
}

fn portal(d: &Description, c: &mut Ctx) {
    let p = &d.portal;
    let old: Vec<_> = p.tls_versions.iter().filter(|v| **v < TlsVersion::Tls12).collect();
    c.when(!old.is_empty(), "WA-SEC-001", "portal.tls_versions", format!("accepted: {}", list(&old)));
    c.when(
        !p.tls_versions.contains(&TlsVersion::Tls13),
        "WA-SEC-002",
        "portal.tls_versions",
        format!("versions [{}] lack 1.3", list(&p.tls_versions)),
    );
    let (weak, no_fs) = classify_suites(&p.cipher_suites);
    c.when(!weak.is_empty(), "WA-SEC-003", "portal.cipher_suites", weak.join(", "));
    c.when(!no_fs.is_empty(), "WA-SEC-004", "portal.cipher_suites", no_fs.join(", "));
    c.when(p.plaintext_http, "WA-SEC-005", "portal.plaintext_http", "plaintext_http = true");
    let pw = &p.passwords;
    c.when(pw.min_length < 8, "WA-SEC-010", "portal.passwords.min_length", format!("min_length = {}", pw.min_length));
    c.when(
        (8..15).contains(&pw.min_length) && !p.mfa.required,
        "WA-SEC-011",
        "portal.passwords.min_length",
        format!("min_length = {} and MFA is not required", pw.min_length),
    );
    c.when(pw.max_length < 64, "WA-SEC-012", "portal.passwords.max_length", format!("max_length = {}", pw.max_length));
    let mut rules = Vec::new();
    if pw.composition_rules {
        rules.push("composition_rules = true".to_string());
    }
    if pw.expiry_days > 0 {
        rules.push(format!("expiry_days = {}", pw.expiry_days));
    }
    c.when(!rules.is_empty(), "WA-SEC-013", "portal.passwords", rules.join(", "));
    c.when(!pw.blocklist_check, "WA-SEC-014", "portal.passwords.blocklist_check", "blocklist_check = false");
    c.when(!p.mfa.required, "WA-SEC-020", "portal.mfa.required", "required = false");
    c.when(p.mfa.methods.contains(&MfaMethod::SmsOtp), "WA-SEC-021", "portal.mfa.methods", "sms-otp offered");
    c.when(
        !p.mfa.sensitive_actions_approval,
        "WA-SEC-022",
        "portal.mfa.sensitive_actions_approval",
        "sensitive_actions_approval = false",
    );
}

fn operations(d: &Description, c: &mut Ctx) {
    let o = &d.operations;
    c.when(o.cert_memberships.is_empty(), "WA-SEC-030", "operations.cert_memberships", "cert_memberships = []");
    c.when(!o.threat_sharing, "WA-SEC-031", "operations.threat_sharing", "threat_sharing = false");
    match o.vulnerability_scan_interval_days {
        None | Some(0) => c.at(
            "operations.vulnerability_scan_interval_days",
            vec![("WA-SEC-032", "no vulnerability_scan_interval_days".into())],
        ),
        Some(n) if n > 90 => {
            c.at("operations.vulnerability_scan_interval_days", vec![("WA-SEC-033", format!("scans every {n} days"))])
        }
        Some(_) => {}
    }
    c.when(!o.security_monitoring, "WA-SEC-034", "operations.security_monitoring", "security_monitoring = false");
    let mut ops = Vec::new();
    if !o.backup_management_channel {
        ops.push("backup_management_channel = false");
    }
    if !o.link_failure_treated_as_breach {
        ops.push("link_failure_treated_as_breach = false");
    }
    c.when(!ops.is_empty(), "WA-SEC-035", "operations.backup_management_channel", ops.join(", "));
    let dm = &d.device_management;
    c.when(
        !dm.device_certificates,
        "WA-SEC-040",
        "device_management.device_certificates",
        "device_certificates = false",
    );
    c.when(dm.protocols.is_empty(), "WA-DM-010", "device_management.protocols", "protocols = []");
    c.when(
        !dm.authenticated_firmware,
        "WA-DM-011",
        "device_management.authenticated_firmware",
        "authenticated_firmware = false",
    );
    let e = &d.eir;
    if !e.deployed {
        c.at("eir.deployed", vec![("WA-DM-001", "deployed = false".into())]);
    } else if !e.ceir_connected {
        c.at("eir.ceir_connected", vec![("WA-DM-002", "ceir_connected = false".into())]);
    } else if e.ceir_sync_days.is_none_or(|n| n > 7) {
        let detail = e.ceir_sync_days.map_or("ceir_sync_days not given".to_string(), |n| format!("every {n} days"));
        c.at("eir.ceir_sync_days", vec![("WA-DM-003", detail)]);
    }
}
