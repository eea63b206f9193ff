//! Every client operation against the in-process simulator.

mod common;

use std::time::Duration;

use chrono::Duration as Days;
use futures::{StreamExt, TryStreamExt};
use onence::models::*;
use onence::{mb_to_bytes, Error};
use onence_sim::{LinkState, SimConfig};

#[tokio::test]
async fn v1_sim_operations() {
    let sim = common::sim(SimConfig::new(250, 3)).await;
    let client = common::client(&sim);
    let state = sim.state().clone();

    // list with page headers
    let page =
        client.list_sims(&SimListQuery { page: Some(2), page_size: Some(100), ..Default::default() }).await.unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(
        (page.total_count, page.total_pages, page.current_page, page.per_page),
        (Some(250), Some(3), Some(2), Some(100))
    );
    assert_eq!(page.items[0].iccid.as_deref(), Some(state.sims()[100].iccid.as_str()));

    // filter and sort
    let target = state.sims()[42].clone();
    let found = client
        .list_sims(&SimListQuery { q: Some(format!("ip_address:{}", target.ip_address)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].imei.as_deref(), Some(target.imei.as_str()));
    let sorted = client
        .list_sims(&SimListQuery { sort: Some("-ip_address".into()), page_size: Some(3), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(sorted.items[0].ip_address.as_deref(), Some(state.sims()[249].ip_address.as_str()));

    // single SIM, status, connectivity info
    let s = client.get_sim(&target.iccid).await.unwrap();
    assert_eq!(s.iccid_with_luhn.as_deref(), Some(target.iccid_with_luhn.as_str()));
    assert_eq!(s.current_quota, Some(500.0));
    let online = state.sims().into_iter().find(|s| s.connectivity.state == LinkState::Online).unwrap();
    let st = client.get_sim_status(&online.iccid).await.unwrap();
    assert_eq!(st.status.as_deref(), Some("ONLINE"));
    assert!(st.pdp_context.is_some());
    let info = client.get_connectivity_info(&online.iccid, Some(true), Some(true)).await.unwrap();
    assert_eq!(
        info.subscriber_info.unwrap().location.unwrap().cell_global_id.unwrap().cid,
        Some(i64::from(online.connectivity.cell_id))
    );
    assert!(info.ussd_info.is_some());

    // update single (sync) and multiple (async)
    let enabled = state
        .sims()
        .into_iter()
        .filter(|s| !s.expired && s.status == onence_sim::SimStatus::Enabled)
        .take(3)
        .collect::<Vec<_>>();
    client
        .update_sim(
            &enabled[0].iccid,
            &SimUpdate {
                iccid: enabled[0].iccid.clone(),
                label: Some("moved".into()),
                imei_lock: Some(true),
                status: SimStatus::Disabled,
            },
        )
        .await
        .unwrap();
    let after = state.sim(&enabled[0].iccid).unwrap();
    assert_eq!(
        (after.status, after.label.as_deref(), after.imei_lock),
        (onence_sim::SimStatus::Disabled, Some("moved"), true)
    );
    let updates: Vec<SimUpdate> = enabled[1..]
        .iter()
        .map(|s| SimUpdate {
            iccid: s.iccid.clone(),
            label: Some("bulk".into()),
            imei_lock: None,
            status: SimStatus::Disabled,
        })
        .collect();
    client.configure_sims(&updates).await.unwrap();
    // applied asynchronously (after ~50 ms): poll for up to 5 s
    let applied =
        || enabled[1..].iter().all(|s| state.sim(&s.iccid).unwrap().status == onence_sim::SimStatus::Disabled);
    for _ in 0..250 {
        if applied() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(applied());

    // transfer, reset
    client
        .transfer_sims(&SimTransfer {
            target_organisation: Some(2_000_000_001),
            iccids: Some(vec![target.iccid.clone()]),
            iccid_ranges: None,
        })
        .await
        .unwrap();
    assert_eq!(state.transfers().len(), 1);
    client.reset_connectivity(&online.iccid).await.unwrap();

    // events: pages and stream
    let all_events = state.events(&target.iccid).unwrap();
    let ev = client.list_events(&target.iccid, Some(1), Some(2), Some("-timestamp")).await.unwrap();
    assert_eq!(ev.total_count, Some(all_events.len() as u64));
    assert!(ev.items.len() <= 2);
    let streamed: Vec<SimEvent> = client.stream_events(&target.iccid, 3, 2).try_collect().await.unwrap();
    assert_eq!(streamed.len(), all_events.len());

    // usage: compare with the simulator, in bytes
    let today = state.today();
    let usage = client.get_usage(&target.iccid, Some(today - Days::days(29)), Some(today)).await.unwrap();
    let expected = state.usage(&target.iccid, today - Days::days(29), today).unwrap();
    assert_eq!(usage.stats.len(), expected.len());
    for (rec, (day, u)) in usage.stats.iter().zip(&expected) {
        assert_eq!(rec.day(), Some(*day));
        let data = rec.data.as_ref().unwrap();
        assert_eq!(data.rx_bytes().unwrap(), Some(mb_to_bytes(&onence_sim::umb_to_mb_string(u.rx_umb)).unwrap()));
        assert_eq!(
            data.volume_bytes().unwrap().unwrap(),
            data.rx_bytes().unwrap().unwrap() + data.tx_bytes().unwrap().unwrap() + rounding_slack(data)
        );
        let sms = rec.sms.as_ref().unwrap();
        assert_eq!((sms.mo(), sms.mt()), (Some(u.sms_mo), Some(u.sms_mt)));
    }

    // bulk usage stream
    let some: Vec<String> = state.sims().iter().take(20).map(|s| s.iccid.clone()).collect();
    let mut got: Vec<(String, DailyUsage)> = client
        .stream_usage(some.clone(), Some(today - Days::days(6)), Some(today), 4)
        .map(|(i, r)| r.map(|u| (i, u)))
        .try_collect()
        .await
        .unwrap();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 20);
    for (iccid, u) in &got {
        assert_eq!(u.stats.len(), state.usage(iccid, today - Days::days(6), today).unwrap().len());
    }

    // quotas
    let dq = client.get_data_quota(&target.iccid).await.unwrap();
    let view = state.data_quota(&target.iccid).unwrap();
    assert_eq!(dq.total_volume, Some(500.0));
    assert_eq!(dq.volume_bytes().unwrap().unwrap(), mb_to_bytes(&format_umb(view.remaining.max(0))).unwrap());
    let sq = client.get_sms_quota(&target.iccid).await.unwrap();
    assert_eq!(sq.volume, Some(state.sms_quota(&target.iccid).unwrap().remaining.max(0) as f64));

    // SMS: send, list, get, cancel (pending on an offline SIM)
    let offline = state.sims().into_iter().find(|s| s.connectivity.state == LinkState::Offline && !s.expired).unwrap();
    client.send_sms(&offline.iccid, &SmsMessage::text("ping")).await.unwrap();
    let all_sms: Vec<SmsData> = client.stream_sms(&offline.iccid, 2, 2).try_collect().await.unwrap();
    let mine = all_sms.iter().find(|s| s.payload.as_deref() == Some("ping")).unwrap();
    assert_eq!(mine.status.as_ref().unwrap().description.as_deref(), Some("PENDING"));
    let id = mine.id.unwrap();
    assert_eq!(client.get_sms(&offline.iccid, id).await.unwrap().id, Some(id));
    client.cancel_sms(&offline.iccid, id).await.unwrap();
    assert!(matches!(client.get_sms(&offline.iccid, id).await, Err(Error::NotFound { .. })));

    // top-ups create orders
    let before = state.data_quota(&target.iccid).unwrap().accumulated;
    let created = client.top_up(&target.iccid, Some(PaymentMethod::Creditcard)).await.unwrap();
    let order_no: u64 = created.id().unwrap().parse().unwrap();
    assert_eq!(state.data_quota(&target.iccid).unwrap().accumulated, before + 500 * onence_sim::UMB_PER_MB);
    assert_eq!(client.get_order(order_no).await.unwrap().order_type.as_deref(), Some("TOPUP"));
    let bulk = client.top_up_many(&[target.iccid.clone(), online.iccid.clone()], None).await.unwrap();
    assert_eq!(
        client.get_order(bulk.id().unwrap().parse().unwrap()).await.unwrap().order_type.as_deref(),
        Some("BULK_TOPUP")
    );

    // auto top-up, limits, extension
    client.set_auto_top_up(&AutoTopupRequest { enabled: true, iccids: vec![target.iccid.clone()] }).await.unwrap();
    assert!(state.sim(&target.iccid).unwrap().auto_topup);
    let options = client.get_selectable_limits(LimitService::Data).await.unwrap().options();
    assert!(options.len() >= 2);
    client.set_limits(&SetLimitsRequest { data_limit_id: options[1].id, ..Default::default() }).await.unwrap();
    let limits = client.get_limits().await.unwrap();
    assert_eq!(limits.data.unwrap().limit, options[1].limit);
    assert!(client.get_selectable_limits(LimitService::SmsMo).await.is_ok());
    let expired = state.sims().into_iter().find(|s| s.expired);
    if let Some(expired) = expired {
        let err = client
            .update_sim(
                &expired.iccid,
                &SimUpdate { iccid: expired.iccid.clone(), label: None, imei_lock: None, status: SimStatus::Enabled },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation { status: 422, .. }), "{err:?}");
        client
            .extend_sims(&SimExtensionRequest { iccids: vec![expired.iccid.clone()], product_id: None }, None)
            .await
            .unwrap();
        assert!(!state.sim(&expired.iccid).unwrap().expired);
    }

    // typed errors
    assert!(matches!(client.get_sim("8988303000000000000").await, Err(Error::NotFound { .. })));
    let foreign = onence_sim::fleet::iccid_for(250);
    assert!(matches!(client.get_sim(&foreign).await, Err(Error::Auth { status: 403, .. })));
    let bad = client.list_sims(&SimListQuery { page_size: Some(101), ..Default::default() }).await.unwrap_err();
    assert!(matches!(bad, Error::Validation { status: 400, .. }), "{bad:?}");
    let bad_pay = client.top_up(&target.iccid, None).await;
    assert!(bad_pay.is_ok());
}

/// `volume` is summed from µMB before conversion, so it may differ from rx+tx by one byte.
fn rounding_slack(d: &DataUsage) -> i64 {
    let v = d.volume_bytes().unwrap().unwrap();
    let parts = d.rx_bytes().unwrap().unwrap() + d.tx_bytes().unwrap().unwrap();
    assert!((v - parts).abs() <= 1);
    v - parts
}

fn format_umb(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}", onence_sim::umb_to_mb_string(v.unsigned_abs()))
}

#[tokio::test]
async fn v2_operations() {
    let sim = common::sim(SimConfig::new(60, 5)).await;
    let client = common::client(&sim);
    let state = sim.state().clone();
    let target = state.sims().into_iter().find(|s| !s.expired && s.connectivity.state == LinkState::Online).unwrap();

    let page = client.v2_list_sims(&SimListQuery { page_size: Some(50), ..Default::default() }).await.unwrap();
    assert_eq!((page.items.len(), page.total_pages), (50, Some(2)));
    assert_eq!(client.v2_get_sim(&target.iccid).await.unwrap().msisdn.as_deref(), Some(target.msisdn.as_str()));

    client
        .v2_update_sim(&target.iccid, &SimUpdateV2 { label: Some("v2-label".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(state.sim(&target.iccid).unwrap().label.as_deref(), Some("v2-label"));
    let bad = client
        .v2_update_sim(&target.iccid, &SimUpdateV2 { iccid: Some("89".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert!(
        matches!(bad, Error::Validation { status: 400, ref error_code, .. } if error_code.as_deref() == Some("BadRequest")),
        "{bad:?}"
    );

    client.v2_reset_connectivity(&target.iccid).await.unwrap();
    let dq = client.v2_get_data_quota(&target.iccid).await.unwrap();
    assert_eq!(dq.service.as_deref(), Some("data"));
    assert_eq!(dq.accumulated_total_volume_bytes().unwrap().unwrap(), 500 * 1_048_576);
    let sq = client.v2_get_sms_quota(&target.iccid).await.unwrap();
    assert_eq!(sq.service.as_deref(), Some("sms"));
    let status = client.v2_get_status(&target.iccid).await.unwrap();
    assert_eq!(status.status.unwrap().description.as_deref(), Some("ONLINE"));
    assert_eq!(status.pdp_contexts.unwrap().len(), 1);

    let created = client.v2_send_sms(&target.iccid, &SmsMessage::text("hello v2")).await.unwrap();
    let id: u64 = created.id.unwrap().parse().unwrap();
    let listed = client.v2_list_sms(&target.iccid, Some(1), Some(1000)).await.unwrap();
    assert!(listed.items.iter().any(|s| s.id == Some(id as i64)));
    let one = client.v2_get_sms(&target.iccid, id).await.unwrap();
    assert_eq!(one.status.unwrap().description.as_deref(), Some("DELIVERED"));
    // a delivered SMS cannot be cancelled
    assert!(matches!(client.v2_cancel_sms(&target.iccid, id).await, Err(Error::Validation { status: 400, .. })));
    let offline = state.sims().into_iter().find(|s| !s.expired && s.connectivity.state == LinkState::Offline).unwrap();
    let pending = client.v2_send_sms(&offline.iccid, &SmsMessage::text("later")).await.unwrap().id.unwrap();
    let deleted = client.v2_cancel_sms(&offline.iccid, pending.parse().unwrap()).await.unwrap();
    assert_eq!(deleted.id, Some(pending));

    let events: Vec<EventV2> = client.stream_events_v2(&target.iccid, 4, 3).try_collect().await.unwrap();
    assert_eq!(events.len(), state.events(&target.iccid).unwrap().len());
    let topup = client.v2_top_up(&target.iccid, None).await.unwrap();
    assert!(topup.location.unwrap().contains("/v1/orders/"));
    assert!(matches!(client.v2_get_sim("8988303000000000000").await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn orders_products_support() {
    let sim = common::sim(SimConfig::new(10, 1)).await;
    let client = common::client(&sim);

    let orders = client.list_orders(Some(1), Some(10), Some("order_date")).await.unwrap();
    assert_eq!(orders.items[0].order_type.as_deref(), Some("FIRST_ORDER"));
    let created = client
        .create_order(&AdditionalOrder {
            products: vec![OrderedProduct { product_id: 1001, quantity: 5 }],
            delivery_address: Some(DeliveryAddress {
                city: Some("Köln".into()),
                country: Some("DE".into()),
                ..Default::default()
            }),
            customer_reference: Some("PO-1".into()),
        })
        .await
        .unwrap();
    let n: u64 = created.id().unwrap().parse().unwrap();
    let order = client.get_order(n).await.unwrap();
    assert_eq!(order.shipping_address.unwrap().city.as_deref(), Some("Köln"));
    assert!(matches!(client.list_orders(None, Some(11), None).await, Err(Error::Validation { status: 400, .. })));
    assert!(matches!(client.get_order(1).await, Err(Error::NotFound { .. })));

    let products = client.list_products().await.unwrap();
    assert!(products.iter().any(|p| p.id == Some(1001)));

    client
        .create_service_request(&NewServiceRequest {
            subject: Some("Help".into()),
            text: Some("SIM offline".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let reqs = client.list_service_requests(Some(1), Some(100)).await.unwrap();
    assert_eq!(reqs.items.len(), 2);
    assert_eq!(reqs.items[1].subject.as_deref(), Some("Help"));
}
