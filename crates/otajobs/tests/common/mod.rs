//! A platform for engine tests: a store with SIMs (with OTA key sets) and a profile with an operator
//! PLMN list, their cards in an in-process SMS network, and an engine sending through it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ota::plmn::{act, encode_list, Plmn, PlmnEntry};
use ota::rfm::tar::USIM_RFM;
use ota::{Counter, KeySet};
use otajobs::{Engine, OtaSettings};
use store::model::Priority;
use store::ota::{NewOtaKeyset, OtaKeys};
use store::Store;
use testkit::uicc::{Card, SimNetwork};
use zeroize::Zeroizing;

pub const ENC: [u8; 16] = [0x20; 16];
pub const MAC: [u8; 16] = [0x21; 16];

/// The profile's list: 26201 (E-UTRAN), 26202 (GSM+UTRAN+E-UTRAN), 20801 (E-UTRAN), one spare entry.
pub fn oplmn_entries() -> Vec<PlmnEntry> {
    let e = |p: &str, a| PlmnEntry { plmn: Some(Plmn::parse(p).unwrap()), act: a };
    vec![
        e("26201", act::E_UTRAN),
        e("26202", act::GSM | act::UTRAN | act::E_UTRAN),
        e("20801", act::E_UTRAN),
        PlmnEntry::UNUSED,
    ]
}

pub fn imsi(n: u32) -> String {
    format!("0010100000{n:05}")
}

/// Settings with short timeouts and backoff for tests.
pub fn settings(rate: f64) -> OtaSettings {
    let mut s = OtaSettings::with_originator("+4912345").unwrap();
    s.rate = rate;
    s.por_timeout = Duration::from_millis(300);
    s.retry_backoff = Duration::from_millis(20);
    s.max_attempts = 3;
    s.window = 64;
    s
}

pub struct Platform {
    pub temp: testkit::TempStore,
    pub network: Arc<SimNetwork>,
    pub engine: Engine,
}

impl Platform {
    pub fn store(&self) -> &Store {
        &self.temp.store
    }

    /// An engine on the same store and cards (as after a restart).
    pub fn engine_again(&self, network: Arc<SimNetwork>, settings: OtaSettings) -> Engine {
        let engine = Engine::new(self.temp.store.clone(), network.clone(), settings);
        network.set_handler(Arc::new(engine.clone()));
        engine
    }
}

/// SIMs `0..n` of tenant `acme` (those in `critical` critical), with the profile `iot` listing
/// `oplmn_entries`, key set 1 and a card each holding the provisioned list.
pub async fn platform(n: u32, critical: &[u32], settings: OtaSettings) -> Platform {
    let temp = testkit::TempStore::sqlite().await;
    let store = temp.store.clone();
    testkit::provision::profiles(
        &store,
        &[testkit::provision::profile(serde_json::json!({
            "name": "iot", "services": ["data"], "oplmn": ["26201:eutran", "26202", "20801:eutran"],
            "oplmn_file_entries": 4
        }))],
    )
    .await;
    let sims: Vec<_> = (0..n)
        .map(|i| {
            let p = if critical.contains(&i) { Priority::Critical } else { Priority::Standard };
            testkit::provision::sim(&imsi(i), Some("iot"), p, "acme")
        })
        .collect();
    for chunk in sims.chunks(5000) {
        testkit::provision::sims(&store, chunk).await;
    }
    let network = SimNetwork::new();
    let card = Card {
        keys: KeySet::new(0x12, 0x12, &ENC, &MAC).unwrap(),
        tars: vec![USIM_RFM],
        counter: Counter::default(),
        files: BTreeMap::from([
            (0x6F61, encode_list(&oplmn_entries())),
            (0x6F60, vec![0xFF; 20]),
            (0x6F07, vec![0; 9]),
        ]),
    };
    let mut sets = Vec::new();
    for i in 0..n {
        network.insert(&imsi(i), card.clone());
        let keys = OtaKeys {
            keyset: 1,
            kic: 0x12,
            kid: 0x12,
            tars: vec![USIM_RFM],
            enc: Zeroizing::new(ENC.to_vec()),
            mac: Zeroizing::new(MAC.to_vec()),
        };
        sets.push(NewOtaKeyset { imsi: imsi(i).parse().unwrap(), keys });
    }
    for chunk in sets.chunks(5000) {
        let mut tx = store.begin().await.unwrap();
        tx.put_ota_keysets(chunk).await.unwrap();
        tx.commit().await.unwrap();
    }
    let engine = Engine::new(store, network.clone(), settings);
    network.set_handler(Arc::new(engine.clone()));
    Platform { temp, network, engine }
}
