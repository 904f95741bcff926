//! `confrere cert inspect`: a certificate's identity and verdict.

use std::process::ExitCode;

use confrere_node::home::{load_trust, HomeError};
use confrere_protocol::{
    parse_certificates, verify_certificate, Certificate, Purpose, RevocationCheck, UnixTime,
    VerifyOptions,
};
use serde_json::json;

use crate::cli::InspectArgs;
use crate::error::{CliError, EXIT_OK, EXIT_REFUSED};

/// Runs `cert inspect`.
pub(crate) fn inspect(args: &InspectArgs, now: UnixTime) -> Result<ExitCode, CliError> {
    let bytes = std::fs::read(&args.cert).map_err(|e| {
        CliError::input(
            format!("cannot read {}: {e}", args.cert.display()),
            "check the path and the file's permissions",
        )
    })?;
    let mut certs = parse_certificates(&bytes)
        .map_err(|e| CliError::input(format!("{}: {e}", args.cert.display()), e.hint()))?;
    let leaf = certs.remove(0);
    let (trust, _) = load_trust(&args.trust, &args.chain, &args.crl).map_err(home_input)?;
    let at = args.at.unwrap_or(now);
    let opts = VerifyOptions {
        at,
        revocation: if args.no_revocation_check {
            RevocationCheck::Off
        } else {
            RevocationCheck::Required
        },
        purpose: if args.authentication {
            Purpose::Authentication
        } else {
            Purpose::Any
        },
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut anchor = None;
    if args.trust.is_empty() {
        errors.push((
            "no trust anchor given: the chain cannot be verified".into(),
            "give the health PKI's root certificate with --trust".into(),
        ));
    } else {
        match verify_certificate(&leaf, &certs, &trust, &opts) {
            Ok(v) => anchor = v.issuers().last().map(|a| a.subject().to_owned()),
            Err(e) => errors.push((e.to_string(), e.hint().to_owned())),
        }
    }
    let identity = leaf.practitioner();
    if let (Err(e), true) = (&identity, args.trust.is_empty()) {
        errors.push((e.to_string(), e.hint().to_owned()));
    }
    let valid = errors.is_empty();
    if args.json {
        print_json(&leaf, &identity, valid, &errors, at, &opts);
    } else {
        print_text(
            &leaf,
            &identity,
            valid,
            &errors,
            at,
            &opts,
            anchor.as_deref(),
        );
    }
    Ok(ExitCode::from(if valid { EXIT_OK } else { EXIT_REFUSED }))
}

fn home_input(e: HomeError) -> CliError {
    let hint = e.hint();
    CliError::input(e, hint)
}

type Identity = Result<confrere_protocol::PractitionerIdentity, confrere_protocol::CertError>;

fn print_json(
    leaf: &Certificate,
    identity: &Identity,
    valid: bool,
    errors: &[(String, String)],
    at: UnixTime,
    opts: &VerifyOptions,
) {
    let id = identity.as_ref().ok();
    let ku = leaf.key_usage();
    let v = json!({
        "valid": valid,
        "national_id": id.map(|i| i.national_id.as_str()),
        "id_type": id.map(|i| i.national_id.id_type().as_str()),
        "given_name": id.map(|i| i.given_name.as_str()),
        "surname": id.map(|i| i.surname.as_str()),
        "profession_code": id.and_then(|i| i.profession_code),
        "profession": id.and_then(|i| i.profession.as_deref()),
        "title": leaf.title(),
        "subject": leaf.subject(),
        "issuer": leaf.issuer(),
        "serial": leaf.serial_hex(),
        "not_before": leaf.not_before().to_rfc3339(),
        "not_after": leaf.not_after().to_rfc3339(),
        "key_usage": ku.names(),
        "authentication": !ku.present || ku.digital_signature,
        "verified_at": at.to_rfc3339(),
        "revocation_checked": opts.revocation == RevocationCheck::Required,
        "errors": errors.iter().map(|(m, _)| m).collect::<Vec<_>>(),
        "hints": errors.iter().map(|(_, h)| h).collect::<Vec<_>>(),
    });
    outln!("{v:#}");
}

fn print_text(
    leaf: &Certificate,
    identity: &Identity,
    valid: bool,
    errors: &[(String, String)],
    at: UnixTime,
    opts: &VerifyOptions,
    anchor: Option<&str>,
) {
    match identity {
        Ok(id) => {
            outln!("Practitioner  {}", id.display_name());
            outln!(
                "National id   {} ({} {})",
                id.national_id,
                id.national_id.id_type(),
                id.national_id.number()
            );
            match (id.profession_code, &id.profession) {
                (Some(c), Some(l)) => outln!("Profession    {c} {l}"),
                (None, Some(l)) => outln!("Profession    {l} (no profession code)"),
                (Some(c), None) => outln!("Profession    {c} (unknown code)"),
                (None, None) => outln!("Profession    (none)"),
            }
        }
        Err(e) => outln!("Practitioner  (none: {e})"),
    }
    outln!("Subject       {}", leaf.subject());
    outln!("Issuer        {}", leaf.issuer());
    outln!("Serial        {}", leaf.serial_hex());
    outln!(
        "Validity      {} to {}",
        leaf.not_before().to_rfc3339(),
        leaf.not_after().to_rfc3339()
    );
    let ku = leaf.key_usage();
    let usage = if ku.present {
        ku.names().join(", ")
    } else {
        "(no KeyUsage extension)".into()
    };
    let role = if ku.present && !ku.digital_signature && ku.non_repudiation {
        " (a signature certificate: it cannot authenticate a node)"
    } else {
        ""
    };
    outln!("Key usage     {usage}{role}");
    let revocation = if opts.revocation == RevocationCheck::Required {
        "revocation checked"
    } else {
        "revocation not checked"
    };
    if valid {
        outln!(
            "Verdict       VALID at {} (chains to {}; {revocation})",
            at.to_rfc3339(),
            anchor.unwrap_or("a trust anchor")
        );
    } else {
        outln!(
            "Verdict       NOT VALID at {} ({revocation})",
            at.to_rfc3339()
        );
        for (m, h) in errors {
            outln!("  error: {m}");
            outln!("  hint:  {h}");
        }
    }
}
