//! axum's `Path` and `Query`, with rejections in our JSON envelope instead of
//! axum's plain text. `clippy.toml` forbids the raw types elsewhere.

#![allow(clippy::disallowed_types)]

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, AppError};

/// Path parameters; a bad one is a 400 in the envelope.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| ApiError(AppError::BadRequest { message: rejection.body_text(), details: Vec::new() }))
    }
}

/// Query parameters; a bad one is a 400 in the envelope.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| ApiError(AppError::BadRequest { message: rejection.body_text(), details: Vec::new() }))
    }
}
