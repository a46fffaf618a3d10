//! The error responses every operation can give, added to the OpenAPI document from what the
//! shared layers do (so no handler can forget one):
//!
//! - `400` a malformed request (query string, path, JSON syntax) and `408` a request over 30 s,
//!   `503` the database unreachable — any operation;
//! - `401` no or a wrong credential, `403` not allowed (module, role, CSRF, cross-site) — any
//!   operation that needs a credential;
//! - `404` — any operation with an id in its path;
//! - `422` an invalid field or parameter — any operation with parameters or a body;
//! - `413` a body over 1 MiB and `415` the wrong content type — any operation with a body.
//!
//! Every error is `application/problem+json` (RFC 9457; see `error.rs`); error responses the
//! handlers documented as JSON are re-labelled so.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

pub const PROBLEM_JSON: &str = "application/problem+json";

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
            .build(),
    )
}

fn complete(path: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let has_params = has_body || op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || path.contains('{');
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    };
    add("400", "Malformed request (query string, path or JSON syntax)");
    add("408", "The request took longer than 30 s");
    add("503", "The database is unreachable; nothing was changed; retry");
    if secured {
        add("401", "No credential, or one that is wrong, expired or revoked");
        add(
            "403",
            "Not allowed: module, role, missing CSRF token, or a cross-site browser request",
        );
    }
    if path.contains('{') {
        add("404", "No such item (of yours)");
    }
    if has_params {
        add("422", "An invalid field or parameter (see `errors`)");
    }
    if has_body {
        add("413", "The body is over 1 MiB");
        add("415", "The body's content type is not the one documented");
    }
    // Errors are problem+json, whatever a handler's annotation said.
    for (status, r) in op.responses.responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if let RefOr::T(resp) = r {
            if let Some(c) = resp.content.shift_remove("application/json") {
                resp.content.insert(PROBLEM_JSON.to_owned(), c);
            }
        }
    }
}

/// Add the shared error responses to every operation of the API document.
pub fn document(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            complete(path, op);
        }
    }
}
