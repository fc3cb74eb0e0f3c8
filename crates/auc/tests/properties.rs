//! Property tests: resynchronisation round-trips for any SQN_MS and refuses any single flipped bit,
//! for MILENAGE and for TUAK with 128- and 256-bit K; AUTN carries SQN⊕AK and AMF as specified.

use auc::{
    build_auts, verify_auts, AucError, AuthAlgorithm, Auts, Key, Milenage, Opc, Rand, Sqn, Topc, Tuak, TuakParams,
};
use proptest::prelude::*;

/// MILENAGE, TUAK with a 128-bit K and TUAK with a 256-bit K and long MACs.
fn algorithm() -> impl Strategy<Value = AuthAlgorithm> {
    prop_oneof![
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|(k, opc)| Milenage::new(
            &Key::from_slice(&k).unwrap(),
            &Opc::from_slice(&opc).unwrap()
        )
        .unwrap()
        .into()),
        (any::<[u8; 16]>(), any::<[u8; 32]>(), prop::sample::select(vec![64u32, 128, 256])).prop_map(
            |(k, topc, mac_bits)| {
                let p = TuakParams { mac_bits, ..TuakParams::default() };
                Tuak::new(&Key::from_slice(&k).unwrap(), &Topc::from_slice(&topc).unwrap(), p).unwrap().into()
            }
        ),
        (any::<[u8; 32]>(), any::<[u8; 32]>(), prop::sample::select(vec![64u32, 128, 256])).prop_map(
            |(k, topc, mac_bits)| {
                let p = TuakParams { mac_bits, ..TuakParams::default() };
                Tuak::new(&Key::from_slice(&k).unwrap(), &Topc::from_slice(&topc).unwrap(), p).unwrap().into()
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn auts_round_trips_for_any_sqn_ms(alg in algorithm(), rand in any::<[u8; 16]>(), sqn in 0u64..=Sqn::MAX) {
        let rand = Rand(rand);
        let sqn_ms = Sqn::new(sqn).unwrap();
        let auts = build_auts(&alg, &rand, sqn_ms);
        prop_assert_eq!(verify_auts(&alg, &rand, &auts), Ok(sqn_ms));
    }

    #[test]
    fn auts_with_a_flipped_bit_is_refused(alg in algorithm(), rand in any::<[u8; 16]>(), sqn in 0u64..=Sqn::MAX, bit in any::<prop::sample::Index>()) {
        let rand = Rand(rand);
        let auts = build_auts(&alg, &rand, Sqn::new(sqn).unwrap());
        let mut bytes = auts.as_slice().to_vec();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        let forged = Auts::from_slice(&bytes).unwrap();
        prop_assert_eq!(verify_auts(&alg, &rand, &forged), Err(AucError::MacSFailure));
    }

    #[test]
    fn autn_conceals_sqn_with_ak(alg in algorithm(), rand in any::<[u8; 16]>(), sqn in 0u64..=Sqn::MAX, amf in any::<[u8; 2]>()) {
        let rand = Rand(rand);
        let sqn = Sqn::new(sqn).unwrap();
        let (mac, _, _, _, ak) = alg.vector_outputs(&rand, sqn, auc::Amf(amf));
        let v = alg.umts_vector(rand, sqn, auc::Amf(amf));
        let autn = v.autn.as_slice();
        let recovered: [u8; 6] = core::array::from_fn(|i| autn[i] ^ ak.0[i]);
        prop_assert_eq!(Sqn::from_bytes(recovered), sqn);
        prop_assert_eq!(&autn[6..8], &amf[..]);
        prop_assert_eq!(&autn[8..], mac.as_slice());
    }
}
