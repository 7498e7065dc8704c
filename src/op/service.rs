//! GET Service: https://cloud.tencent.com/document/product/436/8291

use http::StatusCode;

use super::{owner_id, AppState, Req, Response};
use crate::error::Result;
use crate::render::headers::ResponseBuilder;
use crate::render::xml;

pub async fn list_buckets(state: &AppState, req: Req) -> Result<Response> {
    let mut buckets = state.store.list_buckets().await?;
    // A key scoped to some buckets lists only those.
    if let Some(id) = &req.identity {
        let scope = state.keys.scope(&id.secret_id);
        buckets.retain(|b| scope.covers_bucket(&b.name));
    }
    let id = owner_id(state);
    let body = xml::list_buckets(
        &xml::Owner {
            id: &id,
            display_name: &state.config.addressing.appid,
        },
        &buckets,
    );
    Ok(ResponseBuilder::new(StatusCode::OK).xml(body))
}
