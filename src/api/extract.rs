//! axum's `Path` and `Query`, with rejections in our error vocabulary instead of
//! axum's plain text: a 400 that `crate::web::errors::render_for_audience` renders as
//! the HTML error page on a page and the JSON envelope on the API. `clippy.toml`
//! forbids the raw types elsewhere.

#![allow(clippy::disallowed_types)]

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Path parameters; a bad one is a 400.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| AppError::BadRequest { message: rejection.body_text(), details: Vec::new() })
    }
}

/// Query parameters; a bad one is a 400.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| AppError::BadRequest { message: rejection.body_text(), details: Vec::new() })
    }
}
