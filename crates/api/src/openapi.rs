//! The OpenAPI 3.1 document, generated from the handlers' annotations, and a self-contained page that
//! renders it (no third-party scripts are loaded into an admin console).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;
use crate::routes::{
    access, analytics, approvals, campaigns, catalogue, certificates, devices, events, fdl, firewall, firmware, jobs,
    mfa, oidc, ota, passkey, policy, rules, sessions, sims, stats,
};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("wdn_<id>_<secret>").build(),
            ),
        );
        // The portal's session: accepted wherever `bearer` is, when no Authorization header is sent;
        // every method but GET and HEAD also needs `X-CSRF-Token`.
        c.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session_cookie::NAME,
                "Portal cookie session (POST /auth/login with \"cookie\": true); methods other than GET and HEAD \
                 also need the header X-CSRF-Token with the session's CSRF token",
            ))),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Warden connectivity-management API", version = "1.0.0",
         description = "Tenant self-management of IoT SIMs (GSMA CLP.14). Errors are RFC 9457 problem details; lists use cursor pagination; POST accepts Idempotency-Key."),
    servers((url = "/api/v1")),
    modifiers(&Bearer),
    paths(
        sims::list, sims::get, sims::patch, sims::import, sims::protection,
        policy::get, policy::put, policy::quarantine, policy::lift, policy::usage, policy::dns_queries,
        fdl::get, fdl::put,
        analytics::list, analytics::get, analytics::acknowledge, analytics::resolve, analytics::undo,
        analytics::get_policy, analytics::put_policy, analytics::health, analytics::dashboard, analytics::export_stix,
        analytics::detections, analytics::health_check, analytics::indicators,
        jobs::create, jobs::list, jobs::get, jobs::cancel, jobs::items,
        events::list, events::stream, events::create_webhook, events::list_webhooks, events::delete_webhook,
        rules::list, rules::create, rules::delete,
        catalogue::list_profiles, catalogue::put_profile, catalogue::list_ranges, catalogue::create_range,
        firewall::overview,
        ota::create, ota::get, ota::history,
        firmware::list, firmware::upload, firmware::get, firmware::list_keys, firmware::add_key, firmware::remove_key,
        devices::list, devices::get, devices::read, devices::write, devices::execute, devices::refresh,
        devices::of_sim,
        campaigns::create, campaigns::list, campaigns::get, campaigns::pause, campaigns::resume, campaigns::cancel,
        certificates::list, certificates::revoke,
        access::list_tenants, access::create_tenant, access::list_tokens, access::create_token, access::revoke_token,
        access::list_users, access::create_user, access::delete_user, access::reset_password, access::login, access::change_password,
        access::me, access::audit_log, access::verify_audit,
        mfa::login_mfa, mfa::start_totp, mfa::confirm_totp, mfa::remove_totp, mfa::patch_tenant,
        sessions::logout, sessions::list, sessions::sign_out_everywhere,
        oidc::info, oidc::start, oidc::callback,
        passkey::login_start, passkey::login_finish, passkey::register_start, passkey::register_finish,
        passkey::list, passkey::rename, passkey::delete, passkey::step_up_start, passkey::step_up_finish,
        approvals::step_up, approvals::create, approvals::list, approvals::get, approvals::approve, approvals::reject,
        stats::sims, stats::events,
    ),
    components(schemas(Problem)),
    tags(
        (name = "sims", description = "SIMs and their lifecycle"),
        (name = "policy", description = "Traffic policy: allowlists, quarantine, data sessions, usage and DNS queries (SUB-2); fixed dialling lists (SUB-3)"),
        (name = "analytics", description = "Security analytics: detections, actions and their undo, policy, health check, dashboard, STIX 2.1 export (AV-1, PR-1)"),
        (name = "stats", description = "Read-only counts for dashboards"),
        (name = "jobs", description = "Bulk changes"),
        (name = "firmware", description = "Firmware signing keys and verified firmware images (DM-2)"),
        (name = "campaigns", description = "Firmware update campaigns over LwM2M object 5: canary share, failure threshold, maintenance window, critical devices only with approval (DM-2, SEC-8)"),
        (name = "ota", description = "SIM over-the-air jobs and per-SIM OTA history (SUB-6, ROAM-5)"),
        (name = "devices", description = "LwM2M devices (registrations, read/write/execute/observe) and device certificates issued over EST with their revocation (DM-1, SEC-7, SEC-8)"),
        (name = "events", description = "Events, live stream and webhooks"),
        (name = "rules", description = "IMEI lock and signalling rules"),
        (name = "catalogue", description = "Service profiles and IMSI ranges"),
        (name = "access", description = "Tenants, tokens, users, login, audit trail"),
        (name = "approvals", description = "Second-person approval of critical changes"),
    )
)]
pub struct ApiDoc;

/// The browsable page at `/api/v1/docs`.
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warden API</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1{font-size:1.5em} h2{margin-top:1.5em;border-bottom:1px solid #ddd}
details{margin:.3em 0;padding:.3em .6em;border:1px solid #e3e3e3;border-radius:4px}
summary{cursor:pointer} .m{display:inline-block;width:5em;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.put{color:#a60}.delete{color:#c22}
pre{background:#f6f6f6;padding:.6em;overflow:auto}
</style></head><body>
<h1>Warden connectivity-management API</h1>
<p>Machine-readable description: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1). Authenticate with <code>Authorization: Bearer wdn_…</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('openapi.json').then(r=>r.json()).then(doc=>{
  const out=document.getElementById('ops'); out.textContent='';
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths)) for(const [m,op] of Object.entries(item)){
    const t=(op.tags||['other'])[0]; (byTag[t]=byTag[t]||[]).push([m,path,op]);}
  for(const [tag,ops] of Object.entries(byTag)){
    const h=document.createElement('h2'); h.textContent=tag; out.appendChild(h);
    for(const [m,path,op] of ops){
      const d=document.createElement('details'); const s=document.createElement('summary');
      const mm=document.createElement('span'); mm.className='m '+m; mm.textContent=m;
      s.appendChild(mm); s.appendChild(document.createTextNode(' /api/v1'+path+' — '+(op.summary||op.description||'')));
      d.appendChild(s); const pre=document.createElement('pre'); pre.textContent=JSON.stringify(op,null,2);
      d.appendChild(pre); out.appendChild(d);
    }
  }
  const h=document.createElement('h2'); h.textContent='schemas'; out.appendChild(h);
  const pre=document.createElement('pre'); pre.textContent=JSON.stringify(doc.components.schemas,null,2); out.appendChild(pre);
}).catch(e=>{document.getElementById('ops').textContent='Could not load openapi.json: '+e});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// The detection lists' shared filters (`DetectionFilters`, flattened in serde, listed first in
    /// `params`) are documented as when each query declared them: same names, order and schemas.
    #[test]
    fn detection_lists_document_their_shared_filters_first() {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let params = |path: &str| doc["paths"][path]["get"]["parameters"].as_array().unwrap().clone();
        let names =
            |path: &str| params(path).iter().map(|p| p["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(names("/analytics/detections"), ["cursor", "limit", "kind", "status", "imsi", "since"]);
        assert_eq!(names("/detections"), ["cursor", "limit", "kind", "status", "sim", "imsi", "since", "until"]);
        for path in ["/analytics/detections", "/detections"] {
            let p = params(path);
            assert_eq!(
                p[1]["schema"],
                serde_json::json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 1000})
            );
            assert_eq!(p[3]["schema"]["pattern"], "^(open|acknowledged|resolved)$");
            assert!(p.iter().all(|q| q["in"] == "query" && q["required"] == false), "{path}: {p:?}");
        }
        assert_eq!(params("/detections")[6]["schema"]["format"], "date-time");
    }

    /// Schemas of two modules with one name would silently replace each other in the document: the
    /// traffic policy's body and the analytics policy's body stay apart.
    #[test]
    fn schemas_of_like_names_stay_apart() {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["PolicyBody"]["properties"]["mode"].is_object());
        assert!(schemas["AnalyticsPolicyBody"]["properties"]["min_score"].is_object());
        assert!(schemas["AnalyticsPolicyView"]["properties"]["agreed"].is_object());
    }

    /// The published pattern of a webhook URL admits what the server admits (names, IPv4 and bracketed
    /// IPv6 literals, a port, a path), so generated clients do not refuse valid targets.
    #[test]
    fn webhook_url_pattern_admits_ipv6_literals() {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let pattern = doc["components"]["schemas"]["NewWebhook"]["properties"]["url"]["pattern"].as_str().unwrap();
        let re = regex::Regex::new(pattern).unwrap();
        for ok in [
            "https://hooks.example.com/in",
            "https://[2606:4700:4700::1111]/hook",
            "https://[2606:4700::1]:8443/",
            "http://10.0.0.5:8080/x?y=1",
        ] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in ["ftp://hooks.example.com/", "https://", "https://a b/", "https://[fe80::1%eth0]/"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
