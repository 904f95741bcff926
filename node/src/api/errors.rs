//! The one place that turns the node's errors into the local API's: each
//! [`Fault`]'s [`Code`] becomes a stable error code and an HTTP status.

use axum::http::StatusCode;

use super::model::ApiError;
use crate::fault::{Code, Fault};

/// The stable error code of the API for a [`Code`].
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::NotFound => "not_found",
        Code::Invalid => "invalid",
        Code::Refused => "refused",
        Code::UnknownRecipient => "unknown_recipient",
        Code::NotPublished => "not_published",
        Code::UnknownPeer => "unknown_peer",
        Code::Unreachable => "unreachable",
        Code::Unavailable => "unavailable",
        Code::Internal => "internal",
    }
}

impl<E: Fault> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::new(code_name(e.code()), e.to_string(), e.hint())
    }
}

/// The HTTP status an [`ApiError`] code is answered with.
pub fn http_status(code: &str) -> StatusCode {
    match code {
        "not_found" | "unknown_recipient" | "not_published" | "unknown_peer" => {
            StatusCode::NOT_FOUND
        }
        "invalid" => StatusCode::BAD_REQUEST,
        "refused" => StatusCode::CONFLICT,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_of_its_kind() {
        let all = [
            (Code::NotFound, StatusCode::NOT_FOUND),
            (Code::Invalid, StatusCode::BAD_REQUEST),
            (Code::Refused, StatusCode::CONFLICT),
            (Code::UnknownRecipient, StatusCode::NOT_FOUND),
            (Code::NotPublished, StatusCode::NOT_FOUND),
            (Code::UnknownPeer, StatusCode::NOT_FOUND),
            // As before the codes: the answer of a server that could not
            // reach the network it is part of.
            (Code::Unreachable, StatusCode::INTERNAL_SERVER_ERROR),
            (Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (Code::Internal, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (code, status) in all {
            assert_eq!(http_status(code_name(code)), status, "{code:?}");
        }
        assert_eq!(http_status("unauthorized"), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status("whatever"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the thing is gone")]
    struct Gone;

    impl Fault for Gone {
        fn code(&self) -> Code {
            Code::NotFound
        }
        fn hint(&self) -> String {
            "ask for another thing".into()
        }
    }

    #[test]
    fn a_fault_becomes_an_api_error_with_its_message_and_hint() {
        let e = ApiError::from(Gone);
        assert_eq!(e.code, "not_found");
        assert_eq!(e.error, "the thing is gone");
        assert_eq!(e.hint.as_deref(), Some("ask for another thing"));
    }
}
