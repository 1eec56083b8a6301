// The tables as both backends share them. Written by hand from the two
// migrations folders (no diesel CLI is needed to build); every type here must
// be one diesel's MultiConnection maps on SQLite and PostgreSQL alike.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        is_admin -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> BigInt,
        bio -> Text,
        phone -> Text,
        books_borrowed -> BigInt,
        books_returned -> BigInt,
        subscribed_to_notifications -> Bool,
        operator_code -> Nullable<Text>,
        timezone -> Text,
    }
}

diesel::table! {
    member_tags (user_id, tag) {
        user_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        digest -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    authors (id) {
        id -> BigInt,
        name -> Text,
        bio -> Text,
        total_books -> BigInt,
        available_books -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    books (id) {
        id -> BigInt,
        title -> Text,
        author_id -> BigInt,
        isbn -> Nullable<Text>,
        available -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    book_logs (id) {
        id -> BigInt,
        book_id -> BigInt,
        book_title -> Text,
        action -> Text,
        user_id -> Nullable<BigInt>,
        username -> Nullable<Text>,
        created_at -> Timestamp,
        details -> Text,
    }
}

diesel::table! {
    loans (id) {
        id -> BigInt,
        book_id -> BigInt,
        book_title -> Text,
        user_id -> BigInt,
        username -> Text,
        borrowed_at -> Timestamp,
        due_at -> Timestamp,
        returned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    imports (id) {
        id -> BigInt,
        user_id -> BigInt,
        username -> Text,
        count -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        name -> Text,
        data -> Text,
        user_id -> Nullable<BigInt>,
        username -> Nullable<Text>,
        occurred_at -> Timestamp,
        about_user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    event_consumers (consumer, pattern) {
        consumer -> Text,
        pattern -> Text,
    }
}

diesel::table! {
    event_dispatch (consumer, event_seq) {
        consumer -> Text,
        event_seq -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(events, event_dispatch, event_consumers);

diesel::joinable!(profiles -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(books -> authors (author_id));
diesel::joinable!(loans -> users (user_id));
diesel::joinable!(member_tags -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    profiles,
    api_tokens,
    authors,
    books,
    book_logs,
    loans,
    imports,
    events,
    member_tags,
);

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        is_active -> Bool,
        headers -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        failure_count -> BigInt,
        failing_since -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        url_password -> Nullable<Text>,
        owner_id -> Nullable<BigInt>,
        options -> Text,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        webhook_id -> Text,
        event_id -> Text,
        event -> Text,
        status -> Text,
        attempts -> BigInt,
        retry_base -> BigInt,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_logs (id) {
        id -> BigInt,
        webhook_id -> Text,
        delivery_id -> BigInt,
        event_id -> Text,
        event -> Text,
        attempt -> BigInt,
        payload -> Text,
        response_status -> Nullable<BigInt>,
        response_body -> Text,
        success -> Bool,
        error_message -> Nullable<Text>,
        duration_ms -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, deliveries, webhook_logs, events);

diesel::table! {
    inbound_events (id) {
        id -> Text,
        message_id -> Text,
        event -> Nullable<Text>,
        scheme -> Text,
        status -> Text,
        payload -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        channel -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> BigInt,
        retry_base -> BigInt,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        event_id -> Nullable<Text>,
        loan_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        // Also `dedup_key` (migration 000011), left out here: a seventeenth
        // column needs diesel's slower-to-build 32-column feature, and only
        // the daily statistics email writes it, in plain SQL
        // (`campaigns::queue_statistics_email`).
    }
}

diesel::allow_tables_to_appear_in_same_query!(notifications, loans);

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        text -> Text,
        start_at -> Timestamp,
        end_at -> Timestamp,
        filter -> Text,
        send_window_from -> Nullable<Text>,
        send_window_to -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_messages (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        user_id -> BigInt,
        username -> Text,
        phone -> Text,
        timezone -> Text,
        status -> Text,
        attempts -> BigInt,
        retry_base -> BigInt,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        window_wait -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(campaign_messages -> campaigns (campaign_id));
diesel::allow_tables_to_appear_in_same_query!(campaigns, campaign_messages);

diesel::table! {
    user_identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        issuer -> Text,
        subject -> Text,
        email -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oidc_logins (state) {
        state -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_codes (code_hash) {
        code_hash -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
    }
}
