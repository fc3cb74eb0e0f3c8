//! Fuzzes the codec: `next_frame_len`, `MessageView` (every AVP, and every AVP body read as a Grouped
//! one), and `Message::decode`. A message that decodes must re-encode to bytes that decode to the same
//! message and re-encode identically; a message that does not decode must yield an error answer that
//! is itself a valid message.

#![no_main]

use diameter::{avp, next_frame_len, Avp, Header, Message, MessageView, RawAvps};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = next_frame_len(data, u32::MAX);
    let _ = next_frame_len(data, 64 * 1024);

    if let Ok(view) = MessageView::parse(data) {
        let _ = view.find(avp::SESSION_ID);
        for raw in view.avps().map_while(Result::ok) {
            let _ = Avp::decode(&raw, 0);
            for inner in RawAvps::new(raw.data).map_while(Result::ok) {
                let _ = Avp::decode(&inner, 1);
            }
        }
    }

    match Message::decode(data) {
        Ok(m) => {
            let _ = (m.abbrev(), m.result_code(), m.session_id());
            let bytes = m.encode();
            assert_eq!(bytes.len(), m.len());
            let m2 = Message::decode(&bytes).unwrap_or_else(|e| panic!("re-encoded message does not decode: {e:?}"));
            assert_eq!(Header { length: 0, ..m.header }, Header { length: 0, ..m2.header });
            // Debug compares the structure (floats by value), the encoding compares the bits.
            assert_eq!(format!("{:?}", m.avps), format!("{:?}", m2.avps));
            assert_eq!(m2.encode(), bytes);
        }
        Err(e) => {
            let _ = (e.error.result_code(), e.error.failed_avp(), e.error.to_string());
            if let Some(h) = e.header {
                let answer = Message::error_answer(&h, e.session_id.as_deref(), "hss.example", "example", &e.error);
                let bytes = answer.encode();
                if let Err(e2) = Message::decode(&bytes) {
                    panic!("error answer for {e:?} does not decode: {e2:?}");
                }
            }
        }
    }
});
