-- DigitalOcean accounts and power cohorts (issue 16).
--
-- droplets.account: the DigitalOcean account (team) the droplet lives in; every DigitalOcean call
-- about the droplet uses that account's token and budget (src/digitalocean/accounts.ts). Every
-- droplet recorded before accounts existed is in `default`, the account of DIGITALOCEAN_TOKEN.
ALTER TABLE droplets
  ADD COLUMN account text NOT NULL DEFAULT 'default'
    CONSTRAINT droplets_account_name CHECK (account ~ '^[a-z][a-z0-9_]{0,31}$');

-- One row per cohort: droplets given the same power action at once, tagged with a tag unique to
-- the cohort and powered by ONE bulk action by that tag (src/digitalocean/cohorts.ts). The tag is
-- never reused, so a cohort's leftover tag (its worker died before deleting it) can never make a
-- later bulk action power these droplets again; the sweep deletes tags whose deleted_at is null.
CREATE TABLE power_cohorts (
  id          bigserial PRIMARY KEY,
  tag         text NOT NULL UNIQUE,
  account     text NOT NULL CHECK (account ~ '^[a-z][a-z0-9_]{0,31}$'),
  type        text NOT NULL,
  lane        text NOT NULL,
  members     bigint[] NOT NULL,
  -- members the bulk action's answer started an action for (null until it answered)
  started     bigint[],
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  acted_at    timestamptz,
  deleted_at  timestamptz
);
CREATE INDEX power_cohorts_undeleted_idx ON power_cohorts (created_at) WHERE deleted_at IS NULL;

-- The cohort a power action was started in (null: a single action).
ALTER TABLE power_actions ADD COLUMN cohort_id bigint REFERENCES power_cohorts (id);
