//! `/events`: the tenant's event feed — paginated, streamed live as Server-Sent Events, and pushed to
//! webhooks signed with HMAC-SHA-256 (see `cmp::webhook`) and retried with back-off until delivered.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use cmp::Action;
use serde::{Deserialize, Serialize};
use store::access::Scope;
use store::events::{Event as StoredEvent, EventFilter};
use store::platform::Webhook as StoredWebhook;
use utoipa::{IntoParams, ToSchema};

use super::{next_cursor, IdempotencyKey, PageQuery};
use crate::auth::Ctx;
use crate::egress;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, ApiResult, Problems};
use crate::state::AppState;

/// An event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    /// Increasing id.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Kind, e.g. `sim.status_changed`, `imei_lock_violation`, `rule.hit`, `auts_rejected`.
    pub kind: String,
    /// Subscriber concerned.
    pub imsi: Option<String>,
    /// Owning tenant.
    pub tenant: Option<String>,
    /// Details.
    pub detail: String,
}

/// The view of a stored event.
pub fn view(e: &StoredEvent) -> Event {
    Event {
        id: e.id,
        at: e.at,
        kind: e.kind.clone(),
        imsi: e.imsi.clone(),
        tenant: e.tenant.clone(),
        detail: e.detail.clone(),
    }
}

/// Event filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Cursor (an event id) from the previous page.
    #[param(pattern = "^[0-9]{0,18}$")]
    pub cursor: Option<String>,
    /// Items per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this IMSI.
    pub imsi: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Events, oldest first.
    pub items: Vec<Event>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Lists events, oldest first.
#[utoipa::path(get, path = "/events", tag = "events", params(EventQuery),
    responses((status = 200, body = EventPage), Problems), security(("bearer" = [])))]
pub async fn list(Ctx { st, caller }: Ctx, Query(q): Query<EventQuery>) -> ApiResult<axum::Json<EventPage>> {
    caller.require(Action::Read)?;
    let page = PageQuery { cursor: q.cursor.clone(), limit: q.limit };
    let limit = page.limit()?;
    let filter = EventFilter { kind: q.kind.clone(), imsi: q.imsi.clone() };
    let events = st.store().list_events(&caller.scope(), &filter, page.numeric_cursor()?, limit).await?;
    let next = next_cursor(&events, limit, |e| e.id.to_string());
    Ok(axum::Json(EventPage { items: events.iter().map(view).collect(), next_cursor: next }))
}

/// Stream position.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this event id (default: only new events). `Last-Event-ID` takes precedence.
    pub after: Option<i64>,
}

/// Streams events as they happen (Server-Sent Events; each `id:` is the event id, so a reconnecting
/// client resumes with `Last-Event-ID`).
#[utoipa::path(get, path = "/events/stream", tag = "events", params(StreamQuery),
    responses((status = 200, description = "text/event-stream of Event objects", content_type = "text/event-stream", body = String), Problems),
    security(("bearer" = [])))]
pub async fn stream(
    Ctx { st, caller }: Ctx,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>> {
    caller.require(Action::Read)?;
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let start = match last.or(q.after) {
        Some(n) if n >= 0 => n,
        Some(_) => return Err(ApiError::bad_request("after must not be negative")),
        None => st.store().last_event_id().await?,
    };
    let scope = caller.scope();
    let mut wake = st.0.events.subscribe();
    let _ = wake.borrow_and_update();
    let store = st.store().clone();
    // The wake-up receiver travels with the stream's state, so it remembers what it has seen.
    let s = futures_util::stream::unfold(
        (start, Vec::<StoredEvent>::new(), wake),
        move |(mut after, mut pending, mut wake)| {
            let store = store.clone();
            let scope = scope.clone();
            async move {
                loop {
                    if !pending.is_empty() {
                        let e = pending.remove(0);
                        let data = serde_json::to_string(&view(&e)).unwrap_or_default();
                        let ev = SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(data);
                        return Some((Ok(ev), (after, pending, wake)));
                    }
                    match store.list_events(&scope, &EventFilter::default(), after, 100).await {
                        Ok(batch) if !batch.is_empty() => {
                            after = batch.last().map(|e| e.id).unwrap_or(after);
                            pending = batch;
                        }
                        Ok(_) => {
                            // Wake on the API's own events at once; HSS events are picked up within a second.
                            let _ = tokio::time::timeout(Duration::from_secs(1), wake.changed()).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event stream read failed");
                            return None;
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

/// A webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// Id.
    pub id: String,
    /// Tenant whose events it receives.
    pub tenant: String,
    /// Target URL.
    pub url: String,
    /// Last event id delivered.
    pub cursor: i64,
    /// Consecutive failed deliveries.
    pub failures: i64,
    /// Why the last delivery failed: `delivery failed`, or `delivery failed: HTTP <status>` when the
    /// receiver answered (the cause is in the operator's log); empty after a success.
    pub last_error: String,
    /// Unix seconds.
    pub created_at: i64,
}

fn hook_view(w: &StoredWebhook) -> Webhook {
    Webhook {
        id: w.id.clone(),
        tenant: w.tenant.clone(),
        url: w.url.clone(),
        cursor: w.cursor,
        failures: w.failures,
        last_error: egress::public_error(&w.last_error),
        created_at: w.created_at,
    }
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://…` (or `http://` when private targets are allowed by the operator); the host is a name,
    /// an IPv4 address or a bracketed IPv6 literal.
    #[schema(pattern = "^https?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?(/[!-~]*)?$")]
    pub url: String,
    /// Operator admins: the tenant whose events to send.
    pub tenant: Option<String>,
}

/// A created webhook with its signing secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: Webhook,
    /// HMAC-SHA-256 secret (hex) for `Warden-Signature`; shown only now.
    pub secret: String,
}

/// The webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Webhooks.
    pub items: Vec<Webhook>,
}

/// Registers a webhook; deliveries start with events after this moment. Needs a step-up from a
/// person's session.
#[utoipa::path(post, path = "/webhooks", tag = "events", request_body = NewWebhook, params(IdempotencyKey),
    responses((status = 201, body = CreatedWebhook), Problems), security(("bearer" = [])))]
pub async fn create_webhook(
    Ctx { st, caller }: Ctx,
    Json(req): Json<NewWebhook>,
) -> ApiResult<(StatusCode, axum::Json<CreatedWebhook>)> {
    let (actor, _) = caller.fresh(&st, "changing webhooks").await?;
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    auc::fill_random(secret.as_mut()).map_err(|e| ApiError::internal(&e))?;
    let allow_private = st.0.settings.webhook_allow_private;
    let hook = cmp::catalogue::create_webhook(
        st.store(),
        &actor,
        req.tenant.as_deref(),
        &req.url,
        allow_private,
        secret.as_ref(),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedWebhook { webhook: hook_view(&hook), secret: hex::encode(secret) })))
}

/// Lists webhooks.
#[utoipa::path(get, path = "/webhooks", tag = "events", responses((status = 200, body = WebhookList), Problems),
    security(("bearer" = [])))]
pub async fn list_webhooks(Ctx { st, caller }: Ctx) -> ApiResult<axum::Json<WebhookList>> {
    caller.require(Action::Read)?;
    let hooks = st.store().list_webhooks(&caller.scope()).await?;
    Ok(axum::Json(WebhookList { items: hooks.iter().map(hook_view).collect() }))
}

/// Deletes a webhook. Needs a step-up from a person's session.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "events",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), Problems), security(("bearer" = [])))]
pub async fn delete_webhook(Ctx { st, caller }: Ctx, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let (actor, _) = caller.fresh(&st, "changing webhooks").await?;
    cmp::catalogue::delete_webhook(st.store(), &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delivers events to every webhook until the process ends: up to 500 events per POST as
/// `{"events": [...]}`, signed; on failure the same batch is retried with exponential back-off
/// (1 s doubling to 5 min), so delivery is at least once and in order. Where a delivery may go, and
/// what the tenant is told when it fails, is [`egress`]'s.
pub async fn deliver_forever(st: AppState) {
    let allow_private = st.0.settings.webhook_allow_private;
    let resolver = st.0.settings.webhook_resolver.clone().unwrap_or_else(|| Arc::new(egress::SystemResolver));
    let client = match egress::client(resolver, allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; webhooks disabled");
            return;
        }
    };
    let mut backoff: std::collections::HashMap<String, (u32, tokio::time::Instant)> = Default::default();
    let mut wake = st.0.events.subscribe();
    loop {
        let hooks = st.store().list_webhooks(&Scope::Operator).await.unwrap_or_default();
        let now = tokio::time::Instant::now();
        for h in hooks {
            if backoff.get(&h.id).is_some_and(|(_, until)| *until > now) {
                continue;
            }
            let scope = if h.tenant == "*" { Scope::Operator } else { Scope::Tenant(h.tenant.clone()) };
            let events = match st.store().list_events(&scope, &EventFilter::default(), h.cursor, 500).await {
                Ok(e) if !e.is_empty() => e,
                _ => continue,
            };
            let last = events.last().map(|e| e.id).unwrap_or(h.cursor);
            let body = serde_json::to_vec(&serde_json::json!({
                "webhook": h.id,
                "events": events.iter().map(view).collect::<Vec<_>>(),
            }))
            .unwrap_or_default();
            let outcome = match st.store().webhook_secret(&h.id).await {
                Ok(secret) => {
                    let sig = cmp::webhook::sign(&secret, store::now(), &body);
                    egress::post(&client, &h.url, allow_private, body, sig).await.map(|()| last)
                }
                Err(e) => Err(egress::Failure::hidden(&e)),
            };
            match &outcome {
                Ok(_) => {
                    backoff.remove(&h.id);
                }
                Err(e) => {
                    let n = backoff.get(&h.id).map(|b| b.0 + 1).unwrap_or(0).min(9);
                    let wait = Duration::from_secs((1u64 << n).min(300));
                    tracing::warn!(webhook = %h.id, url = %h.url, error = %e.detail, retry_in = ?wait, "webhook delivery failed");
                    backoff.insert(h.id.clone(), (n, now + wait));
                }
            }
            st.store().webhook_delivered(&h.id, outcome.map_err(|e| e.public)).await.ok();
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.changed()).await;
    }
}
