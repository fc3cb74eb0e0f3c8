//! Putting transports and users together in `warden serve`: [`Fallback`] sends over SGd first and
//! over SMPP when SGd cannot deliver; [`Late`] breaks the start-up cycle between a transport that
//! needs its MO handler and a user (the OTA engine) that needs the transport; [`Forward`] makes the
//! SMPP client the router's way toward the SMSC.

use std::sync::{Arc, OnceLock};

use crate::router::MoForwarder;

use crate::route::{
    BoxFuture, DeliveryReport, MoHandler, MoMessage, MoVerdict, MtMessage, MtOutcome, MtSender, ReportSink,
};

/// An [`MtSender`] that tries `first` and, when it does not deliver, `then`.
///
/// Used as "SGd toward the serving MME, else SMPP toward the SMSC": SGd fails fast when the SIM is
/// detached, its MME has no open connection or answers absent subscriber, and the SMSC can store
/// the message and retry until the SIM is back. A failure of `then` is the answer; when `then` is
/// not tried (a permanent failure of `first`, see below) `first`'s failure is.
pub struct Fallback {
    first: Arc<dyn MtSender>,
    then: Arc<dyn MtSender>,
}

impl Fallback {
    /// `first`, then `then`.
    pub fn new(first: Arc<dyn MtSender>, then: Arc<dyn MtSender>) -> Self {
        Fallback { first, then }
    }
}

impl MtSender for Fallback {
    fn send<'a>(&'a self, message: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
        Box::pin(async move {
            match self.first.send(message).await {
                MtOutcome::Failed { reason, retry: true } => match self.then.send(message).await {
                    MtOutcome::Failed { reason: then, retry } => {
                        MtOutcome::Failed { reason: format!("{reason}; then: {then}"), retry }
                    }
                    other => other,
                },
                // Delivered, accepted, or a permanent failure (an unknown subscriber, a message the
                // network cannot carry) that the second path would only repeat.
                other => other,
            }
        })
    }
}

/// Any [`MoHandler`] (the SMPP client's forwarding side) as the router's [`MoForwarder`].
pub struct Forward(pub Arc<dyn MoHandler>);

impl MoForwarder for Forward {
    fn forward<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        self.0.received(message)
    }
}

/// A handler set once, after both sides exist. Until then (and if never set) MO messages are
/// refused as a temporary failure and reports are dropped.
#[derive(Default)]
pub struct Late {
    mo: OnceLock<Arc<dyn MoHandler>>,
    reports: OnceLock<Arc<dyn ReportSink>>,
}

impl Late {
    /// Nothing set yet.
    pub fn new() -> Arc<Late> {
        Arc::new(Late::default())
    }

    /// Sets the MO handler; a second call is ignored and returns false.
    pub fn set_mo(&self, mo: Arc<dyn MoHandler>) -> bool {
        self.mo.set(mo).is_ok()
    }

    /// Sets the report sink; a second call is ignored and returns false.
    pub fn set_reports(&self, reports: Arc<dyn ReportSink>) -> bool {
        self.reports.set(reports).is_ok()
    }
}

impl MoHandler for Late {
    fn received<'a>(&'a self, message: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
        Box::pin(async move {
            match self.mo.get() {
                Some(mo) => mo.received(message).await,
                None => MoVerdict::Failed { reason: "no receiver for MO messages yet".into(), retry: true },
            }
        })
    }
}

impl ReportSink for Late {
    fn report<'a>(&'a self, report: &'a DeliveryReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(sink) = self.reports.get() {
                sink.report(report).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ids::Imsi;

    use super::*;
    use crate::route::Via;

    /// Answers from a script and remembers what it was asked.
    struct Scripted {
        answer: MtOutcome,
        sent: Mutex<u32>,
    }

    impl Scripted {
        fn new(answer: MtOutcome) -> Arc<Scripted> {
            Arc::new(Scripted { answer, sent: Mutex::new(0) })
        }
        fn sent(&self) -> u32 {
            *self.sent.lock().unwrap()
        }
    }

    impl MtSender for Scripted {
        fn send<'a>(&'a self, _: &'a MtMessage) -> BoxFuture<'a, MtOutcome> {
            *self.sent.lock().unwrap() += 1;
            let a = self.answer.clone();
            Box::pin(async move { a })
        }
    }

    fn message() -> MtMessage {
        MtMessage {
            imsi: "001010000000001".parse::<Imsi>().unwrap(),
            msisdn: Some("491700000001".into()),
            originator: "+4910".into(),
            pid: 0x7f,
            dcs: 0xf6,
            segments: vec![vec![2, 0x70, 0, 1]],
            reference: "r1".into(),
        }
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_retryable_failure_of_the_first_path_goes_to_the_second() {
        let sgd = Scripted::new(MtOutcome::Failed { reason: "absent subscriber".into(), retry: true });
        let smpp = Scripted::new(MtOutcome::Accepted { message_id: "7".into() });
        let f = Fallback::new(sgd.clone(), smpp.clone());
        assert_eq!(block(f.send(&message())), MtOutcome::Accepted { message_id: "7".into() });
        assert_eq!((sgd.sent(), smpp.sent()), (1, 1));
    }

    #[test]
    fn delivery_or_a_permanent_failure_of_the_first_path_ends_there() {
        for first in [
            MtOutcome::Delivered { report_user_data: None },
            MtOutcome::Failed { reason: "unknown subscriber".into(), retry: false },
        ] {
            let sgd = Scripted::new(first.clone());
            let smpp = Scripted::new(MtOutcome::Accepted { message_id: "7".into() });
            let f = Fallback::new(sgd.clone(), smpp.clone());
            assert_eq!(block(f.send(&message())), first);
            assert_eq!(smpp.sent(), 0);
        }
    }

    #[test]
    fn when_both_fail_both_reasons_are_given() {
        let sgd = Scripted::new(MtOutcome::Failed { reason: "detached".into(), retry: true });
        let smpp = Scripted::new(MtOutcome::Failed { reason: "bind refused".into(), retry: true });
        let f = Fallback::new(sgd, smpp);
        assert_eq!(
            block(f.send(&message())),
            MtOutcome::Failed { reason: "detached; then: bind refused".into(), retry: true }
        );
    }

    struct Takes;
    impl MoHandler for Takes {
        fn received<'a>(&'a self, _: &'a MoMessage) -> BoxFuture<'a, MoVerdict> {
            Box::pin(async { MoVerdict::Accepted })
        }
    }

    #[test]
    fn a_late_handler_refuses_until_set_and_is_set_once() {
        let late = Late::new();
        let mo = MoMessage {
            imsi: None,
            msisdn: Some("491700000001".into()),
            destination: "+4911".into(),
            pid: 0x7f,
            dcs: 0xf6,
            udhi: true,
            user_data: vec![2, 0x71, 0],
            via: Via::Smpp,
        };
        assert!(matches!(block(late.received(&mo)), MoVerdict::Failed { retry: true, .. }));
        assert!(late.set_mo(Arc::new(Takes)));
        assert!(!late.set_mo(Arc::new(Takes)));
        assert_eq!(block(late.received(&mo)), MoVerdict::Accepted);
    }
}
