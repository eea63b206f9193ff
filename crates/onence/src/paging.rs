//! Streaming every page of a listing with bounded concurrency: the first page tells how many
//! pages there are, the rest are fetched `concurrency` at a time, in order.
//!
//! When a listing carries no page count (the v1 SMS list documents no headers), pages are
//! fetched one after another until a short page.

use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::models::{DailyUsage, EventV2, Page, Sim, SimEvent, SimListQuery, SmsData};
use crate::{Client, Result};

/// Turns a page fetcher into a stream of items.
pub fn paginate<'a, T, F, Fut>(fetch: F, concurrency: usize) -> BoxStream<'a, Result<T>>
where
    T: Send + 'a,
    F: Fn(u32) -> Fut + Clone + Send + Sync + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    let first_fetch = fetch.clone();
    stream::once(async move { first_fetch(1).await })
        .flat_map(move |first| -> BoxStream<'a, Result<T>> {
            let first = match first {
                Ok(p) => p,
                Err(e) => return stream::iter([Err(e)]).boxed(),
            };
            let per_page = first.per_page.map_or(first.items.len(), |p| p as usize);
            let total_pages = first.total_pages;
            let first_len = first.items.len();
            let head = stream::iter(first.items.into_iter().map(Ok));
            let fetch = fetch.clone();
            let rest: BoxStream<'a, Result<Page<T>>> = match total_pages {
                Some(pages) => stream::iter(2..=pages).map(fetch).buffered(concurrency.max(1)).boxed(),
                None if first_len == 0 || first_len < per_page => stream::empty().boxed(),
                None => stream::unfold(Some(2u32), move |next| {
                    let fetch = fetch.clone();
                    async move {
                        let n = next?;
                        match fetch(n).await {
                            Ok(p) => {
                                let more = !p.items.is_empty() && p.items.len() >= per_page;
                                Some((Ok(p), more.then_some(n + 1)))
                            }
                            Err(e) => Some((Err(e), None)),
                        }
                    }
                })
                .boxed(),
            };
            head.chain(rest.map_ok(|p| stream::iter(p.items.into_iter().map(Ok))).try_flatten()).boxed()
        })
        .boxed()
}

impl Client {
    /// Every SIM of the account (`GET /v1/sims`, `page_size` ≤ 100), `concurrency` pages in flight.
    pub fn stream_sims(&self, page_size: u32, concurrency: usize) -> BoxStream<'static, Result<Sim>> {
        let client = self.clone();
        paginate(
            move |page| {
                let client = client.clone();
                async move {
                    client
                        .list_sims(&SimListQuery { page: Some(page), page_size: Some(page_size), ..Default::default() })
                        .await
                }
            },
            concurrency,
        )
    }

    /// Collects [`Client::stream_sims`]; fails on the first error.
    pub async fn all_sims(&self, page_size: u32, concurrency: usize) -> Result<Vec<Sim>> {
        self.stream_sims(page_size, concurrency).try_collect().await
    }

    /// Every v1 event of a SIM (`page_size` ≤ 1000).
    pub fn stream_events(
        &self,
        iccid: &str,
        page_size: u32,
        concurrency: usize,
    ) -> BoxStream<'static, Result<SimEvent>> {
        let (client, iccid) = (self.clone(), iccid.to_string());
        paginate(
            move |page| {
                let (client, iccid) = (client.clone(), iccid.clone());
                async move { client.list_events(&iccid, Some(page), Some(page_size), None).await }
            },
            concurrency,
        )
    }

    /// Every v2 event of a SIM (`page_size` ≤ 1000).
    pub fn stream_events_v2(
        &self,
        iccid: &str,
        page_size: u32,
        concurrency: usize,
    ) -> BoxStream<'static, Result<EventV2>> {
        let (client, iccid) = (self.clone(), iccid.to_string());
        paginate(
            move |page| {
                let (client, iccid) = (client.clone(), iccid.clone());
                async move { client.v2_list_events(&iccid, Some(page), Some(page_size)).await }
            },
            concurrency,
        )
    }

    /// Every SMS of a SIM (`page_size` ≤ 100).
    pub fn stream_sms(&self, iccid: &str, page_size: u32, concurrency: usize) -> BoxStream<'static, Result<SmsData>> {
        let (client, iccid) = (self.clone(), iccid.to_string());
        paginate(
            move |page| {
                let (client, iccid) = (client.clone(), iccid.clone());
                async move { client.list_sms(&iccid, Some(page), Some(page_size), None).await }
            },
            concurrency,
        )
    }
}

impl Client {
    /// Usage of many SIMs between two dates, `concurrency` requests in flight; yields
    /// `(iccid, result)` as answers arrive (unordered), so one failing SIM does not stop the rest.
    pub fn stream_usage(
        &self,
        iccids: Vec<String>,
        start: Option<chrono::NaiveDate>,
        end: Option<chrono::NaiveDate>,
        concurrency: usize,
    ) -> BoxStream<'static, (String, Result<DailyUsage>)> {
        let client = self.clone();
        stream::iter(iccids)
            .map(move |iccid| {
                let client = client.clone();
                async move {
                    let r = client.get_usage(&iccid, start, end).await;
                    (iccid, r)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(
        total: usize,
        size: usize,
        headers: bool,
    ) -> impl Fn(u32) -> futures::future::Ready<Result<Page<usize>>> + Clone {
        move |page| {
            let start = (page as usize - 1) * size;
            let items: Vec<usize> = (start..(start + size).min(total)).collect();
            futures::future::ready(Ok(Page {
                items,
                total_count: headers.then_some(total as u64),
                total_pages: headers.then_some(total.div_ceil(size) as u32),
                current_page: Some(page),
                per_page: headers.then_some(size as u32),
            }))
        }
    }

    #[tokio::test]
    async fn streams_all_pages_in_order() {
        for (total, headers) in [(0, true), (1, true), (10, true), (95, true), (95, false), (100, false)] {
            let got: Vec<usize> = paginate(fake(total, 10, headers), 4).try_collect().await.unwrap();
            assert_eq!(got, (0..total).collect::<Vec<_>>(), "total {total}, headers {headers}");
        }
    }
}
