-- WhatsApp accounts of a neutralized copy (staging, tests): no live credential
-- stays, nothing can reach a real provider (every account on the embedded
-- sandbox) and the webhook verify tokens are rotated, so the copy can neither
-- send for the production numbers nor accept their events.
UPDATE spoki_account
   SET provider = 'sandbox',
       api_endpoint = NULL,
       spoki_api_key = NULL,
       spoki_webhook_secret = NULL,
       meta_access_token = NULL,
       meta_app_secret = NULL,
       webhook_verify_token = md5(random()::text || id::text || clock_timestamp()::text);
