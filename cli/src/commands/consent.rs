//! `confrere consent grant|list|show|revoke` and `confrere care-team
//! record`: the records a send cites (French public health code, art.
//! L1110-4). The daemon checks and keeps them; these commands only ask.
//!
//! Records are named by their id, or by a unique prefix of at least 8
//! characters (the daemon resolves it).

use std::process::ExitCode;

use confrere_node::api::consent_model::{
    CareTeamInfo, CareTeamRequest, ConsentInfo, GrantConsentRequest, RevokeConsentRequest,
};

use crate::cli::{
    CareTeamRecordArgs, ConsentGrantArgs, ConsentListArgs, ConsentRevokeArgs, ConsentShowArgs,
};
use crate::client::output::{clean, cut, print_json, short_id, Table};
use crate::client::Client;
use crate::error::{CliError, EXIT_OK};

/// Runs `consent grant`.
pub(crate) fn grant(args: &ConsentGrantArgs) -> Result<ExitCode, CliError> {
    let req = GrantConsentRequest {
        patient_ins: args.patient_ins.trim().to_owned(),
        recipients: recipients(&args.to),
        purpose: args.purpose.trim().to_owned(),
        expires: args.expires.clone(),
    };
    let client = Client::connect(&args.home.home)?;
    let consent = client.consent_grant(&req)?;
    if args.json {
        print_json(&consent)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!("{}", clean(&consent.id));
    outln!(
        "Consent recorded for {} ({}). Cite it with `confrere send --consent {} …`.",
        colleagues(consent.recipients.len()),
        until(&consent),
        clean(&short_id(&consent.id))
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `consent list`.
pub(crate) fn list(args: &ConsentListArgs) -> Result<ExitCode, CliError> {
    let patient = args
        .patient_ins
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let client = Client::connect(&args.home.home)?;
    let consents = client.consent_list(patient)?;
    if args.json {
        print_json(&consents)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if consents.is_empty() {
        let whose = if patient.is_some() {
            " for this patient"
        } else {
            ""
        };
        outln!(
            "No consent is recorded{whose}: record one with `confrere consent grant --patient-ins INS --to NATIONAL_ID --purpose TEXT`."
        );
        return Ok(ExitCode::from(EXIT_OK));
    }
    // The daemon's order (newest first) is kept.
    let mut table = Table::new(&[
        "ID",
        "STATE",
        "PATIENT INS",
        "RECIPIENTS",
        "EXPIRES",
        "GRANTED",
        "PURPOSE",
    ]);
    for c in &consents {
        table.row(vec![
            short_id(&c.id),
            c.state.clone(),
            c.patient_ins.clone(),
            c.recipients.join(" "),
            c.expires.clone().unwrap_or_else(|| "-".to_owned()),
            c.granted_at.clone(),
            cut(&c.purpose, 40),
        ]);
    }
    table.print();
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `consent show`.
pub(crate) fn show(args: &ConsentShowArgs) -> Result<ExitCode, CliError> {
    let client = Client::connect(&args.home.home)?;
    let consent = client.consent_show(args.id.trim())?;
    if args.json {
        print_json(&consent)?;
    } else {
        print_consent(&consent);
        for r in &consent.recipient_states {
            outln!(
                "  {}  dossier {}  {}{}{}",
                clean(&r.national_id),
                clean(r.dossier_id.get(..12).unwrap_or(&r.dossier_id)),
                clean(&r.state),
                r.receipt_at
                    .as_deref()
                    .map(|t| format!(", receipt {}", clean(t)))
                    .unwrap_or_default(),
                r.last_error
                    .as_deref()
                    .map(|e| format!(" ({})", clean(e)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `consent revoke`.
pub(crate) fn revoke(args: &ConsentRevokeArgs) -> Result<ExitCode, CliError> {
    let req = RevokeConsentRequest {
        reason: args
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
    };
    let client = Client::connect(&args.home.home)?;
    let consent = client.consent_revoke(args.id.trim(), &req)?;
    if args.json {
        print_json(&consent)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    outln!("{}", clean(&consent.id));
    outln!(
        "Consent revoked{}: no dossier can be sent under it any more; every node that received one is told to erase it (`confrere consent show` follows the erasure receipts).",
        consent
            .revoked_at
            .as_deref()
            .map(|at| format!(" on {}", clean(at)))
            .unwrap_or_default()
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// Runs `care-team record`.
pub(crate) fn care_team_record(args: &CareTeamRecordArgs) -> Result<ExitCode, CliError> {
    let req = CareTeamRequest {
        patient_ins: args.patient_ins.trim().to_owned(),
        recipients: recipients(&args.to),
        informed_on: args.informed_on.clone(),
    };
    let client = Client::connect(&args.home.home)?;
    let record = client.care_team_record(&req)?;
    if args.json {
        print_json(&record)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    print_care_team(&record);
    Ok(ExitCode::from(EXIT_OK))
}

/// The national ids as given, one per `--to` value or comma-separated.
fn recipients(given: &[String]) -> Vec<String> {
    given
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn colleagues(n: usize) -> String {
    if n == 1 {
        "1 colleague".to_owned()
    } else {
        format!("{n} colleagues")
    }
}

fn until(c: &ConsentInfo) -> String {
    match &c.expires {
        Some(day) => format!("until the end of {}", clean(day)),
        None => "until revoked".to_owned(),
    }
}

fn print_consent(c: &ConsentInfo) {
    let line = |label: &str, value: &str| outln!("{label:<12}{}", clean(value));
    line("Consent", &c.id);
    line("State", &c.state);
    line("Patient INS", &c.patient_ins);
    line("Recipients", &c.recipients.join(", "));
    line("Purpose", &c.purpose);
    line("Granted", &c.granted_at);
    line(
        "Expires",
        c.expires.as_deref().unwrap_or("never (until revoked)"),
    );
    if let Some(at) = &c.revoked_at {
        line("Revoked", at);
        if let Some(reason) = &c.revoke_reason {
            line("Reason", reason);
        }
    }
}

fn print_care_team(t: &CareTeamInfo) {
    outln!("{}", clean(&t.id));
    outln!(
        "Care-team exchange recorded with {}, the patient informed on {}. Cite it with `confrere send --care-team {} …`.",
        colleagues(t.recipients.len()),
        clean(&t.informed_on),
        clean(&short_id(&t.id))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_may_be_repeated_or_comma_separated() {
        let given = vec![
            "810002000015".to_owned(),
            " 899700075064 , 810001000016".to_owned(),
            ",".to_owned(),
        ];
        assert_eq!(
            recipients(&given),
            ["810002000015", "899700075064", "810001000016"]
        );
    }

    #[test]
    fn counts_read_well() {
        assert_eq!(colleagues(1), "1 colleague");
        assert_eq!(colleagues(3), "3 colleagues");
    }
}
