//! Writes the seed corpora, `fuzz/corpus/<target>/`, from real encodings
//! made with the protocol crate (and the OpenSSL-made fixture PKI).
//!
//! Usage (from the repository root): `scripts/fuzz.sh --seeds`, or
//! `cargo run --manifest-path fuzz/Cargo.toml --bin seeds -- fuzz/corpus`.

use std::path::{Path, PathBuf};

use confrere_fuzz::{
    credential, dossier_key, node_key, node_peer_id, session_config, store_key, NOW, RECORD_AAD,
};
use confrere_protocol::consent::{parse_date, CareTeamRecord, Consent, RecordId, Revocation};
use confrere_protocol::dossier::{
    open_chunk, seal_chunk, seal_record, wrap, BirthDate, ContentSealer, DocumentEntry, DossierId,
    Ins, Manifest, Patient, Referral, Sex,
};
use confrere_protocol::keys::NoiseKeypair;
use confrere_protocol::ledger::{append, EntryKind, HeadCheckpoint, ShareBasis};
use confrere_protocol::receipt::sign_receipt;
use confrere_protocol::revocation::{sign_erasure, sign_notice, RevocationMessage};
use confrere_protocol::session::{encode_frame, HandshakePayload, Initiator};
use confrere_protocol::transfer::{encode_chunk, Offer, RefuseReason, TransferMessage};
use confrere_protocol::{NationalId, UnixTime};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const GP: &str = "810001000016";
const CARDIOLOGIST: &str = "810001000024";
const INS: &str = "269054958815780";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/fixtures/");

fn main() -> Res<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus")));
    let mut seeds = Seeds { out, count: 0 };
    seeds.all()?;
    println!("wrote {} seeds into {}", seeds.count, seeds.out.display());
    Ok(())
}

struct Seeds {
    out: PathBuf,
    count: usize,
}

fn with_selector(sel: u8, bytes: &[u8]) -> Vec<u8> {
    [&[sel][..], bytes].concat()
}

fn sha(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

fn manifest(documents: &[&[u8]]) -> Res<Manifest> {
    Ok(Manifest {
        version: confrere_protocol::dossier::manifest::MANIFEST_VERSION,
        dossier_id: dossier_key().1,
        from: GP.into(),
        to: CARDIOLOGIST.into(),
        created_at: UnixTime::from_secs(1_709_251_200),
        patient: Patient {
            ins: Ins::parse("2 69 05 49 588 157 80")?,
            family: "DUPONT".into(),
            given: "MARIE".into(),
            birth_date: BirthDate::parse("1969-05-14")?,
            sex: Sex::F,
        },
        referral: Referral {
            reason: "ECG".into(),
            urgent: true,
            letter: "Cher confrère,\n".into(),
        },
        in_reply_to: Some(DossierId([0x22; 16])),
        documents: documents
            .iter()
            .enumerate()
            .map(|(i, d)| DocumentEntry {
                name: format!("doc{i}.pdf"),
                media_type: "application/pdf".into(),
                size: d.len() as u64,
                sha256: sha(d),
            })
            .collect(),
    })
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) -> Res<()> {
        let dir = self.out.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        self.count += 1;
        Ok(())
    }

    fn copy(&mut self, target: &str, fixture: &str) -> Res<()> {
        let bytes = std::fs::read(Path::new(FIXTURES).join(fixture))?;
        let name = fixture.replace('/', "-");
        self.put(target, &name, &bytes)
    }

    fn all(&mut self) -> Res<()> {
        let node = node_key();
        let (key, id) = dossier_key();

        // Session: frames, the handshake payload, msg1 for the responder.
        let a = encode_frame(b"hello")?;
        let b = encode_frame(&[7u8; 300])?;
        self.put(
            "frame",
            "two-frames",
            &with_selector(3, &[a.clone(), b].concat()),
        )?;
        self.put(
            "frame",
            "frame-and-raw",
            &with_selector(200, &[a, vec![9; 40]].concat()),
        )?;
        let noise = NoiseKeypair::generate()?;
        let cred = credential(&noise);
        self.put("credential", "good-rsa", &cred.encode())?;
        let payload = HandshakePayload::new(cred.encode())?;
        self.put("handshake_payload", "good-rsa", &payload.encode())?;
        let (_, msg1) = Initiator::new(session_config())?.write_hello()?;
        let body = &msg1[2..];
        let len = u8::try_from(body.len())?;
        self.put("responder", "msg1", &with_selector(len, body))?;
        self.put(
            "responder",
            "msg1-and-junk",
            &with_selector(len, &[body, &[0u8; 64][..]].concat()),
        )?;

        // Certificates and CRLs.
        for f in [
            "openssl/good-rsa.pem",
            "openssl/good-rsa.der",
            "openssl/good-ecdsa.pem",
            "openssl/intermediate.pem",
            "openssl/adeli.pem",
            "purpose/eku-email.pem",
            "purpose/policy-test.pem",
        ] {
            self.copy("certificate", f)?;
        }
        for f in [
            "openssl/crl.pem",
            "openssl/crl.der",
            "purpose/crl-revoked-later.pem",
        ] {
            self.copy("crl", f)?;
        }

        // Dossier: manifest, content, transfer messages.
        let doc = b"%PDF-1.4 fuzz seed";
        let m = manifest(&[doc])?;
        self.put("manifest", "one-document", &m.encode()?)?;
        self.put("manifest", "no-document", &manifest(&[])?.encode()?)?;
        let mut sealer = ContentSealer::new(&key, &m)?;
        let mut chunks = sealer.write(doc)?;
        chunks.extend(sealer.end_document()?);
        let (rest, summary) = sealer.finish()?;
        chunks.extend(rest);
        let mut plain = Vec::new();
        for c in &chunks {
            plain.extend(open_chunk(&key, &id, c.index, c.last, &c.sealed)?);
        }
        self.put("content", "one-document", &with_selector(1, &plain))?;
        self.put(
            "content",
            "one-document-no-length",
            &with_selector(0, &plain),
        )?;

        let receipt = sign_receipt(&node, id, GP, CARDIOLOGIST, summary.content_digest, NOW)?;
        self.put("receipt", "receipt", &receipt.encode()?)?;
        let messages = [
            (
                "offer",
                TransferMessage::Offer(Offer::new(id, key.clone(), plain.len() as u64)),
            ),
            (
                "resume",
                TransferMessage::Resume {
                    dossier_id: id,
                    next_index: 0,
                },
            ),
            (
                "complete",
                TransferMessage::Complete {
                    receipt: receipt.clone(),
                },
            ),
            (
                "refuse",
                TransferMessage::Refuse {
                    dossier_id: id,
                    reason: RefuseReason::Busy,
                },
            ),
        ];
        for (name, msg) in messages {
            self.put("transfer_message", name, &msg.encode()?)?;
        }
        let sealed = &chunks[0].sealed;
        self.put(
            "transfer_message",
            "chunk",
            &encode_chunk(0, chunks[0].last, sealed)?,
        )?;

        // The transfer state machines: offer, then chunks; resume, then complete.
        let lp = |m: &[u8]| -> Res<Vec<u8>> {
            Ok([&u16::try_from(m.len())?.to_be_bytes()[..], m].concat())
        };
        let offer = TransferMessage::Offer(Offer::new(id, key.clone(), plain.len() as u64));
        let mut exchange = vec![0u8];
        exchange.extend(lp(&offer.encode()?)?);
        for c in &chunks {
            exchange.extend(lp(&encode_chunk(c.index, c.last, &c.sealed)?)?);
        }
        self.put("transfer_exchange", "offer-and-chunks", &exchange)?;
        let mut answers = vec![0u8];
        let resume = TransferMessage::Resume {
            dossier_id: id,
            next_index: 0,
        };
        answers.extend(lp(&resume.encode()?)?);
        let complete = TransferMessage::Complete {
            receipt: receipt.clone(),
        };
        answers.extend(lp(&complete.encode()?)?);
        self.put("transfer_exchange", "resume-and-complete", &answers)?;

        // Store: records, wrapped keys, chunks.
        let record = seal_record(
            &store_key(),
            RECORD_AAD,
            br#"{"state":"queued","attempts":0}"#,
        )?;
        self.put("sealed_record", "record", &with_selector(0, &record))?;
        self.put(
            "sealed_record",
            "wrapped-key",
            &with_selector(1, &wrap(&store_key(), &id, &key)?),
        )?;
        let chunk = seal_chunk(&key, &id, 0, true, b"chunk plaintext")?;
        self.put("sealed_record", "chunk", &with_selector(6, &chunk))?;

        // Ledger.
        let kinds = vec![
            EntryKind::Genesis {
                national_id: GP.into(),
                name: "Jeanne MARTIN".into(),
                peer_id: node_peer_id(),
            },
            EntryKind::ConsentGranted {
                consent_id: [0x33; 16],
                patient_ins: Ins::parse(INS)?,
                recipients: vec![CARDIOLOGIST.into()],
                purpose: "Avis cardiologique".into(),
                expires: Some("2025-06-30".into()),
            },
            EntryKind::DossierSent {
                dossier_id: id,
                patient_ins: Ins::parse(INS)?,
                to: CARDIOLOGIST.into(),
                basis: ShareBasis::Consent([0x33; 16]),
            },
            EntryKind::DossierDelivered {
                dossier_id: id,
                to: CARDIOLOGIST.into(),
                receipt: receipt.encode()?,
            },
        ];
        let mut prev = None;
        for (i, kind) in kinds.into_iter().enumerate() {
            let e = append(prev.as_ref(), NOW.add_secs(60 * i as i64), kind, &node)?;
            self.put(
                "ledger_entry",
                &format!("entry-{i}"),
                &with_selector(0, &e.encode()?),
            )?;
            prev = Some(e);
        }
        if let Some(head) = prev {
            let c = HeadCheckpoint::sign(&node, head.seq, head.hash())?;
            self.put("ledger_entry", "checkpoint", &with_selector(1, &c.encode()))?;
        }

        // Revocation.
        let notice = sign_notice(&node, [0x33; 16], id, GP, CARDIOLOGIST, NOW, "Retrait")?;
        self.put(
            "revocation",
            "notice",
            &RevocationMessage::Notice(notice).encode()?,
        )?;
        let erased = sign_erasure(&node, [0x33; 16], id, CARDIOLOGIST, NOW, true)?;
        self.put(
            "revocation",
            "erased",
            &RevocationMessage::Erased(erased).encode()?,
        )?;

        // Consent records.
        let consent = Consent {
            id: RecordId([0x33; 16]),
            patient_ins: Ins::parse(INS)?,
            recipients: vec![NationalId::parse(CARDIOLOGIST)?],
            purpose: "Avis cardiologique".into(),
            granted_at: NOW,
            expires: Some(parse_date("2025-06-30")?),
            revoked: Some(Revocation {
                at: NOW.add_secs(3600),
                reason: Some("Retrait".into()),
            }),
        };
        self.put("consent", "consent", &with_selector(0, &consent.encode()?))?;
        let team = CareTeamRecord {
            id: RecordId([0x44; 16]),
            patient_ins: Ins::parse(INS)?,
            recipients: vec![NationalId::parse(CARDIOLOGIST)?],
            informed_on: parse_date("2025-05-30")?,
            recorded_at: NOW,
        };
        self.put("consent", "care-team", &with_selector(1, &team.encode()?))?;
        Ok(())
    }
}
