//! Every string of the web inbox, in French (the default) and English.
//!
//! A page asks [`Tr::t`] for a key; both catalogues hold the same keys
//! (tested), and every key the templates use is in them (tested).

/// The page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// Français, the default.
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// `fr` or `en`, as in `lang=` and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language of a code; anything else is none.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other one (what the switch offers).
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }
}

/// The catalogue of one language, as templates use it.
#[derive(Clone, Copy, Debug)]
pub struct Tr(pub Lang);

impl Tr {
    /// The text of `key`; the key itself if the catalogue lacks it (a test
    /// keeps that from happening).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let table = match self.0 {
            Lang::Fr => FR,
            Lang::En => EN,
        };
        table
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, v)| v)
    }

    /// The label of the patient's administrative sex (`F`, `M`, `U`).
    pub fn sex<'a>(&self, sex: &'a str) -> &'a str {
        match sex {
            "F" => self.t("sex.f"),
            "M" => self.t("sex.m"),
            "U" => self.t("sex.u"),
            other => other,
        }
    }

    /// The label of an inbox status (`new`, `opened`, …).
    pub fn status<'a>(&self, status: &'a str) -> &'a str {
        match status {
            "new" => self.t("status.new"),
            "opened" => self.t("status.opened"),
            "accepted" => self.t("status.accepted"),
            "declined" => self.t("status.declined"),
            "answered" => self.t("status.answered"),
            "revoked" => self.t("status.revoked"),
            other => other,
        }
    }
}

const FR: &[(&str, &str)] = &[
    ("app.name", "Confrère"),
    ("nav.inbox", "Boîte de réception"),
    ("nav.node", "Nœud"),
    ("nav.logout", "Se déconnecter"),
    ("nav.main", "Navigation principale"),
    ("lang.switch", "English"),
    ("lang.switch_label", "Changer de langue"),
    ("inbox.title", "Boîte de réception"),
    ("inbox.new_count", "nouveau(x)"),
    ("inbox.empty", "Aucun dossier reçu."),
    ("inbox.received", "Reçu le"),
    ("inbox.from", "De"),
    ("inbox.patient", "Patient"),
    ("inbox.reason", "Motif"),
    ("inbox.state", "État"),
    ("inbox.urgent", "Urgent"),
    ("inbox.open", "Ouvrir"),
    ("status.new", "nouveau"),
    ("status.opened", "ouvert"),
    ("status.accepted", "accepté"),
    ("status.declined", "refusé"),
    ("status.answered", "répondu"),
    ("status.revoked", "retiré (consentement révoqué)"),
    ("dossier.title", "Dossier"),
    ("dossier.patient", "Patient"),
    ("dossier.ins", "INS"),
    ("dossier.family", "Nom de naissance"),
    ("dossier.given", "Prénoms"),
    ("dossier.birth_date", "Date de naissance"),
    ("dossier.sex", "Sexe"),
    ("sex.f", "féminin"),
    ("sex.m", "masculin"),
    ("sex.u", "indéterminé"),
    ("dossier.reason", "Motif d'adressage"),
    ("dossier.letter", "Courrier"),
    ("dossier.no_letter", "Pas de courrier."),
    ("dossier.documents", "Documents"),
    ("dossier.no_documents", "Aucun document."),
    ("dossier.doc_name", "Nom"),
    ("dossier.doc_type", "Type"),
    ("dossier.doc_size", "Taille"),
    ("dossier.bytes", "octets"),
    ("dossier.from", "Adressé par"),
    ("dossier.state", "État"),
    ("dossier.decline_reason", "Motif du refus"),
    ("dossier.reply_to", "En réponse au dossier"),
    ("dossier.accept", "Accepter"),
    ("dossier.decline", "Refuser"),
    (
        "dossier.decline_label",
        "Motif du refus (transmis au confrère)",
    ),
    ("dossier.back", "Retour à la boîte de réception"),
    ("node.title", "Nœud"),
    ("node.practitioner", "Praticien"),
    ("node.national_id", "Identifiant national"),
    ("node.peer_id", "Identifiant de pair"),
    ("node.reachability", "Joignabilité"),
    ("node.peers", "Confrères dans le carnet d'adresses"),
    ("node.version", "Version"),
    ("node.crls", "Listes de révocation (CRL)"),
    ("node.ca", "Autorité"),
    ("node.freshness", "Fraîcheur"),
    ("node.next_update", "Prochaine mise à jour"),
    ("node.no_crl", "Aucune autorité de confiance."),
    ("error.title", "Erreur"),
    ("error.what_to_do", "Que faire"),
    ("refusal.no_host", "La requête n'a pas d'en-tête Host."),
    (
        "refusal.foreign_host",
        "Cette page n'est servie que sous 127.0.0.1 ou localhost avec le port du nœud.",
    ),
    (
        "refusal.foreign_origin",
        "Le formulaire a été envoyé depuis un autre site.",
    ),
    (
        "refusal.bad_csrf",
        "Le formulaire n'a pas de jeton de sécurité valide.",
    ),
    ("refusal.no_session", "Vous n'êtes pas connecté."),
    (
        "refusal.session_expired",
        "Votre session a pris fin après une période d'inactivité.",
    ),
    (
        "refusal.unknown_link",
        "Ce lien de connexion est inconnu ou a déjà servi.",
    ),
    ("refusal.expired_link", "Ce lien de connexion a expiré."),
    (
        "hint.host",
        "Ouvrez le lien que `confrere ui` affiche, qui mène à 127.0.0.1 et au port du nœud.",
    ),
    (
        "hint.reload",
        "Rechargez la page et renvoyez le formulaire depuis elle.",
    ),
    (
        "hint.login",
        "Lancez `confrere ui` pour obtenir un nouveau lien de connexion.",
    ),
    ("error.not_found", "Cette page n'existe pas."),
    ("error.not_found_hint", "Revenez à la boîte de réception."),
    ("logout.done", "Vous êtes déconnecté."),
];

const EN: &[(&str, &str)] = &[
    ("app.name", "Confrère"),
    ("nav.inbox", "Inbox"),
    ("nav.node", "Node"),
    ("nav.logout", "Log out"),
    ("nav.main", "Main navigation"),
    ("lang.switch", "Français"),
    ("lang.switch_label", "Change language"),
    ("inbox.title", "Inbox"),
    ("inbox.new_count", "new"),
    ("inbox.empty", "No dossier received."),
    ("inbox.received", "Received"),
    ("inbox.from", "From"),
    ("inbox.patient", "Patient"),
    ("inbox.reason", "Reason"),
    ("inbox.state", "State"),
    ("inbox.urgent", "Urgent"),
    ("inbox.open", "Open"),
    ("status.new", "new"),
    ("status.opened", "opened"),
    ("status.accepted", "accepted"),
    ("status.declined", "declined"),
    ("status.answered", "answered"),
    ("status.revoked", "withdrawn (consent revoked)"),
    ("dossier.title", "Dossier"),
    ("dossier.patient", "Patient"),
    ("dossier.ins", "INS"),
    ("dossier.family", "Family name"),
    ("dossier.given", "Given names"),
    ("dossier.birth_date", "Birth date"),
    ("dossier.sex", "Sex"),
    ("sex.f", "female"),
    ("sex.m", "male"),
    ("sex.u", "unknown"),
    ("dossier.reason", "Reason for referral"),
    ("dossier.letter", "Letter"),
    ("dossier.no_letter", "No letter."),
    ("dossier.documents", "Documents"),
    ("dossier.no_documents", "No document."),
    ("dossier.doc_name", "Name"),
    ("dossier.doc_type", "Type"),
    ("dossier.doc_size", "Size"),
    ("dossier.bytes", "bytes"),
    ("dossier.from", "Referred by"),
    ("dossier.state", "State"),
    ("dossier.decline_reason", "Why it was declined"),
    ("dossier.reply_to", "In reply to dossier"),
    ("dossier.accept", "Accept"),
    ("dossier.decline", "Decline"),
    (
        "dossier.decline_label",
        "Why you decline (sent to the colleague)",
    ),
    ("dossier.back", "Back to the inbox"),
    ("node.title", "Node"),
    ("node.practitioner", "Practitioner"),
    ("node.national_id", "National id"),
    ("node.peer_id", "Peer id"),
    ("node.reachability", "Reachability"),
    ("node.peers", "Colleagues in the address book"),
    ("node.version", "Version"),
    ("node.crls", "Revocation lists (CRLs)"),
    ("node.ca", "Authority"),
    ("node.freshness", "Freshness"),
    ("node.next_update", "Next update"),
    ("node.no_crl", "No trusted authority."),
    ("error.title", "Error"),
    ("error.what_to_do", "What to do"),
    ("refusal.no_host", "The request has no Host header."),
    (
        "refusal.foreign_host",
        "This page is served only as 127.0.0.1 or localhost with the node's port.",
    ),
    (
        "refusal.foreign_origin",
        "The form was sent from another site.",
    ),
    ("refusal.bad_csrf", "The form has no valid security token."),
    ("refusal.no_session", "You are not logged in."),
    (
        "refusal.session_expired",
        "Your session ended after a time without use.",
    ),
    (
        "refusal.unknown_link",
        "This login link is unknown or was already used.",
    ),
    ("refusal.expired_link", "This login link has expired."),
    (
        "hint.host",
        "Open the link `confrere ui` prints, which leads to 127.0.0.1 and the node's port.",
    ),
    (
        "hint.reload",
        "Reload the page and send the form again from it.",
    ),
    ("hint.login", "Run `confrere ui` for a new login link."),
    ("error.not_found", "There is no such page."),
    ("error.not_found_hint", "Go back to the inbox."),
    ("logout.done", "You are logged out."),
];

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(table: &[(&str, &str)]) -> BTreeSet<String> {
        let set: BTreeSet<String> = table.iter().map(|(k, _)| (*k).to_owned()).collect();
        assert_eq!(set.len(), table.len(), "a key is there twice");
        set
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        assert_eq!(keys(FR), keys(EN));
        assert!(FR.iter().chain(EN).all(|(_, v)| !v.is_empty()));
    }

    #[test]
    fn every_key_the_templates_use_is_in_the_catalogue() {
        let all = keys(FR);
        let mut used = 0;
        for src in super::super::views::TEMPLATE_SOURCES {
            for part in src.split("t(\"").skip(1) {
                let key = part.split('"').next().unwrap_or_default();
                assert!(all.contains(key), "{key} is not in the catalogue");
                used += 1;
            }
        }
        assert!(used > 20, "the templates use the catalogue");
    }

    #[test]
    fn every_refusal_has_its_message_and_hint() {
        let all = keys(FR);
        for r in super::super::guard::ALL {
            assert!(all.contains(r.key()) && all.contains(r.hint_key()), "{r:?}");
        }
    }

    #[test]
    fn french_by_default_english_on_demand() {
        assert_eq!(Lang::default(), Lang::Fr);
        assert_eq!(Tr(Lang::Fr).t("nav.inbox"), "Boîte de réception");
        assert_eq!(Tr(Lang::En).t("nav.inbox"), "Inbox");
        assert_eq!(Lang::from_code("en"), Some(Lang::En));
        assert_eq!(Lang::from_code("de"), None);
        assert_eq!(Tr(Lang::En).status("accepted"), "accepted");
        assert_eq!(Tr(Lang::Fr).status("accepted"), "accepté");
    }
}
