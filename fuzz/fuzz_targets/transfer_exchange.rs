//! Both transfer state machines driven by a peer's messages. The input is
//! a series of messages, each with a 2-byte big-endian length: the first
//! is the offer the receiver answers (with chunks `0..stored` already
//! stored, `stored` from the selector byte), the rest go to the receiver
//! and, separately, to a sender waiting for its recipient's answers.
#![no_main]

use confrere_fuzz::{dossier_key, node_peer_id, split_selector};
use confrere_protocol::dossier::ContentSummary;
use confrere_protocol::transfer::{
    ChunkView, ReceivingTransfer, RefuseReason, SendingTransfer, TransferMessage,
};

fn messages(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        out.push(&tail[..len]);
        rest = &tail[len..];
        if out.len() == 64 {
            break;
        }
    }
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (stored, rest) = split_selector(data);
    let msgs = messages(rest);
    let (_, id) = dossier_key();

    // The sender: a dossier of 3 chunks, waiting for the recipient.
    let mut sender = SendingTransfer::new(
        id,
        ContentSummary {
            content_len: 150_000,
            chunk_count: 3,
            content_digest: [0x5a; 32],
        },
        node_peer_id(),
    );
    for m in &msgs {
        if let Ok(msg) = TransferMessage::decode(m) {
            let _ = sender.on_message(msg);
            while sender.next_chunk().is_some() {}
        }
    }

    // The receiver: the first message must be an offer.
    let Some((first, later)) = msgs.split_first() else {
        return;
    };
    let Ok(TransferMessage::Offer(offer)) = TransferMessage::decode(first) else {
        return;
    };
    let Ok((mut receiver, _resume)) = ReceivingTransfer::from_offer(&offer, u64::from(stored))
    else {
        return;
    };
    for m in later {
        if let Ok(view) = ChunkView::decode(m) {
            let _ = receiver.on_chunk(view.index, view.last, view.sealed.len());
        } else if let Ok(msg) = TransferMessage::decode(m) {
            let _ = receiver.on_message(&msg);
        }
        assert!(receiver.next_index() <= offer.chunk_count);
    }
    if !receiver.all_received() {
        let _ = receiver.refuse(RefuseReason::Other);
    }
});
