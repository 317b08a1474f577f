/**
 * A recorded stream for `autoplay-bridge serve --demo`: four users of a B2B SaaS app (a project
 * tracker, "Tasklane") clicking through it in one two-minute stretch: page views, clicks, forms.
 * Kept as a module (not a JSON file) so the build ships it with no copy step.
 */

/** One recorded action: seconds after the user's first action, then the slim action's fields. */
export type RecordedStep = readonly [at: number, type: string, title: string, description: string, path: string];

/** One user's recording. */
export interface RecordedUser {
  /** Stem of the session ids (a fresh suffix per loop). */
  name: string;
  userId: string;
  email: string;
  /** Seconds after the loop's start of the user's first action. */
  startsAt: number;
  steps: readonly RecordedStep[];
}

/** The app's origin in the recorded URLs. */
export const DEMO_ORIGIN = "https://app.tasklane.example";

/** Seconds between loop starts (the longest recording, plus a pause). */
export const DEMO_LOOP_SECONDS = 130;

export const DEMO_USERS: readonly RecordedUser[] = [
  {
    name: "maya",
    userId: "usr_4821",
    email: "maya@brightbyte.example",
    startsAt: 0.5,
    steps: [
      [0, "pageview", "Dashboard", "Viewed page Dashboard", "/dashboard"],
      [2.4, "click", "Dashboard", "Clicked \"Settings\" in the sidebar", "/dashboard"],
      [3.1, "pageview", "Workspace settings", "Viewed page Workspace settings", "/settings"],
      [5.8, "click", "Workspace settings", "Clicked tab \"Billing\"", "/settings"],
      [6.2, "pageview", "Billing", "Viewed page Billing", "/settings/billing"],
      [9.5, "click", "Billing", "Clicked \"Upgrade to Team\"", "/settings/billing"],
      [10.1, "pageview", "Choose a plan", "Viewed page Choose a plan", "/settings/billing/plans"],
      [14.3, "click", "Choose a plan", "Selected plan \"Team, yearly\"", "/settings/billing/plans"],
      [15.0, "click", "Choose a plan", "Clicked \"Continue to payment\"", "/settings/billing/plans"],
      [15.6, "pageview", "Payment details", "Viewed page Payment details", "/settings/billing/checkout"],
      [19.2, "input", "Payment details", "Filled field \"Cardholder name\"", "/settings/billing/checkout"],
      [24.8, "input", "Payment details", "Filled field \"Card number\"", "/settings/billing/checkout"],
      [27.1, "input", "Payment details", "Filled field \"Expiry\" and \"CVC\"", "/settings/billing/checkout"],
      [29.9, "submit", "Payment details", "Submitted form \"Payment details\"", "/settings/billing/checkout"],
      [31.2, "error", "Payment details", "Saw error \"Your card was declined (insufficient_funds)\"", "/settings/billing/checkout"],
      [36.5, "click", "Payment details", "Clicked \"Try again\"", "/settings/billing/checkout"],
      [37.3, "submit", "Payment details", "Submitted form \"Payment details\"", "/settings/billing/checkout"],
      [38.6, "error", "Payment details", "Saw error \"Your card was declined (insufficient_funds)\"", "/settings/billing/checkout"],
      [44.0, "input", "Payment details", "Changed field \"Card number\"", "/settings/billing/checkout"],
      [47.4, "submit", "Payment details", "Submitted form \"Payment details\"", "/settings/billing/checkout"],
      [48.9, "error", "Payment details", "Saw error \"3-D Secure check timed out\"", "/settings/billing/checkout"],
      [55.2, "click", "Payment details", "Clicked \"Pay by invoice instead\"", "/settings/billing/checkout"],
      [56.0, "pageview", "Invoice billing", "Viewed page Invoice billing", "/settings/billing/invoice"],
      [63.5, "input", "Invoice billing", "Filled field \"VAT number\"", "/settings/billing/invoice"],
      [68.1, "submit", "Invoice billing", "Submitted form \"Invoice billing\"", "/settings/billing/invoice"],
      [69.0, "error", "Invoice billing", "Saw error \"VAT number not valid for country: FR\"", "/settings/billing/invoice"],
      [76.4, "click", "Invoice billing", "Clicked \"Help\" in the header", "/settings/billing/invoice"],
      [77.0, "click", "Invoice billing", "Clicked \"Chat with us\"", "/settings/billing/invoice"],
      [92.5, "click", "Invoice billing", "Clicked \"Back to Billing\"", "/settings/billing/invoice"],
      [93.1, "pageview", "Billing", "Viewed page Billing", "/settings/billing"],
      [104.8, "click", "Billing", "Clicked \"Download last invoice (PDF)\"", "/settings/billing"],
      [118.0, "pageview", "Dashboard", "Viewed page Dashboard", "/dashboard"],
    ],
  },
  {
    name: "liam",
    userId: "usr_5102",
    email: "liam@northfold.example",
    startsAt: 2,
    steps: [
      [0, "pageview", "Welcome", "Viewed page Welcome to Tasklane", "/onboarding"],
      [4.2, "input", "Welcome", "Filled field \"Workspace name\"", "/onboarding"],
      [6.9, "click", "Welcome", "Clicked \"Create workspace\"", "/onboarding"],
      [7.5, "pageview", "Invite your team", "Viewed page Invite your team", "/onboarding/invite"],
      [13.8, "input", "Invite your team", "Filled field \"Emails\" (3 addresses)", "/onboarding/invite"],
      [16.0, "submit", "Invite your team", "Submitted form \"Invite your team\"", "/onboarding/invite"],
      [16.9, "error", "Invite your team", "Saw error \"1 address is outside your allowed domain\"", "/onboarding/invite"],
      [22.3, "input", "Invite your team", "Changed field \"Emails\" (2 addresses)", "/onboarding/invite"],
      [24.0, "submit", "Invite your team", "Submitted form \"Invite your team\"", "/onboarding/invite"],
      [24.7, "pageview", "New project", "Viewed page New project", "/projects/new"],
      [30.2, "input", "New project", "Filled field \"Project name\"", "/projects/new"],
      [32.5, "click", "New project", "Selected template \"Product launch\"", "/projects/new"],
      [34.1, "submit", "New project", "Submitted form \"New project\"", "/projects/new"],
      [34.9, "pageview", "Q3 launch · Board", "Viewed page Q3 launch · Board", "/projects/q3-launch/board"],
      [41.0, "click", "Q3 launch · Board", "Clicked \"Import tasks\"", "/projects/q3-launch/board"],
      [41.6, "pageview", "Import tasks", "Viewed page Import tasks", "/projects/q3-launch/import"],
      [47.3, "click", "Import tasks", "Chose file \"jira-export.csv\"", "/projects/q3-launch/import"],
      [49.8, "submit", "Import tasks", "Submitted form \"Import tasks\"", "/projects/q3-launch/import"],
      [52.4, "error", "Import tasks", "Saw error \"Column 'Assignee' could not be mapped\"", "/projects/q3-launch/import"],
      [58.9, "click", "Import tasks", "Opened dropdown \"Map column: Assignee\"", "/projects/q3-launch/import"],
      [61.2, "click", "Import tasks", "Selected \"Owner\"", "/projects/q3-launch/import"],
      [62.0, "submit", "Import tasks", "Submitted form \"Import tasks\"", "/projects/q3-launch/import"],
      [66.7, "pageview", "Q3 launch · Board", "Viewed page Q3 launch · Board", "/projects/q3-launch/board"],
      [73.5, "click", "Q3 launch · Board", "Dragged task \"Press kit\" to \"In progress\"", "/projects/q3-launch/board"],
      [80.2, "click", "Q3 launch · Board", "Clicked \"Automations\"", "/projects/q3-launch/board"],
      [80.9, "pageview", "Automations", "Viewed page Automations", "/projects/q3-launch/automations"],
      [88.4, "click", "Automations", "Clicked \"New rule\"", "/projects/q3-launch/automations"],
      [95.0, "input", "Automations", "Filled field \"When\" = \"Task moved to Done\"", "/projects/q3-launch/automations"],
      [101.7, "click", "Automations", "Clicked \"Save rule\" (disabled)", "/projects/q3-launch/automations"],
      [103.1, "click", "Automations", "Clicked \"Save rule\" (disabled)", "/projects/q3-launch/automations"],
      [112.6, "click", "Automations", "Clicked \"Help\" in the header", "/projects/q3-launch/automations"],
    ],
  },
  {
    name: "sofia",
    userId: "usr_3377",
    email: "sofia@quarry.example",
    startsAt: 5,
    steps: [
      [0, "pageview", "Reports", "Viewed page Reports", "/reports"],
      [3.5, "click", "Reports", "Opened report \"Cycle time by team\"", "/reports"],
      [4.1, "pageview", "Cycle time by team", "Viewed page Cycle time by team", "/reports/cycle-time"],
      [9.7, "click", "Cycle time by team", "Opened date range picker", "/reports/cycle-time"],
      [11.2, "click", "Cycle time by team", "Selected \"Last quarter\"", "/reports/cycle-time"],
      [14.6, "click", "Cycle time by team", "Added filter \"Team = Platform\"", "/reports/cycle-time"],
      [18.3, "click", "Cycle time by team", "Clicked \"Export CSV\"", "/reports/cycle-time"],
      [19.0, "error", "Cycle time by team", "Saw toast \"Export failed: report too large\"", "/reports/cycle-time"],
      [23.4, "click", "Cycle time by team", "Clicked \"Export CSV\"", "/reports/cycle-time"],
      [24.1, "error", "Cycle time by team", "Saw toast \"Export failed: report too large\"", "/reports/cycle-time"],
      [31.0, "click", "Cycle time by team", "Opened date range picker", "/reports/cycle-time"],
      [32.8, "click", "Cycle time by team", "Selected \"Last 30 days\"", "/reports/cycle-time"],
      [35.5, "click", "Cycle time by team", "Clicked \"Export CSV\"", "/reports/cycle-time"],
      [37.9, "click", "Cycle time by team", "Downloaded \"cycle-time-platform.csv\"", "/reports/cycle-time"],
      [46.2, "click", "Cycle time by team", "Clicked \"Share\"", "/reports/cycle-time"],
      [52.8, "input", "Cycle time by team", "Filled field \"Share with\" = \"leadership@quarry.example\"", "/reports/cycle-time"],
      [54.4, "submit", "Cycle time by team", "Submitted form \"Share report\"", "/reports/cycle-time"],
      [55.1, "error", "Cycle time by team", "Saw error \"Guests cannot view private reports\"", "/reports/cycle-time"],
      [63.0, "click", "Cycle time by team", "Clicked \"Make report visible to workspace\"", "/reports/cycle-time"],
      [70.6, "click", "Cycle time by team", "Clicked \"Schedule email\"", "/reports/cycle-time"],
      [77.3, "input", "Cycle time by team", "Filled field \"Every\" = \"Monday 09:00\"", "/reports/cycle-time"],
      [79.0, "submit", "Cycle time by team", "Submitted form \"Schedule email\"", "/reports/cycle-time"],
      [88.9, "pageview", "Reports", "Viewed page Reports", "/reports"],
      [97.4, "click", "Reports", "Clicked \"New dashboard\"", "/reports"],
      [104.0, "input", "New dashboard", "Filled field \"Dashboard name\"", "/reports/dashboards/new"],
      [110.5, "click", "New dashboard", "Added widget \"Open bugs by priority\"", "/reports/dashboards/new"],
    ],
  },
  {
    name: "noah",
    userId: "usr_6090",
    email: "noah@ferrolab.example",
    startsAt: 9,
    steps: [
      [0, "pageview", "Inbox", "Viewed page My tasks", "/my-tasks"],
      [3.0, "click", "My tasks", "Clicked avatar menu", "/my-tasks"],
      [3.7, "click", "My tasks", "Clicked \"Integrations\"", "/my-tasks"],
      [4.3, "pageview", "Integrations", "Viewed page Integrations", "/settings/integrations"],
      [9.9, "click", "Integrations", "Clicked \"Connect\" on Slack", "/settings/integrations"],
      [10.5, "pageview", "Slack authorization", "Left for slack.com (OAuth)", "/settings/integrations/slack"],
      [21.8, "pageview", "Integrations", "Returned from Slack: \"access_denied\"", "/settings/integrations?error=access_denied"],
      [27.2, "click", "Integrations", "Clicked \"Connect\" on Slack", "/settings/integrations"],
      [38.0, "pageview", "Integrations", "Returned from Slack: connected to #eng-alerts", "/settings/integrations"],
      [44.5, "click", "Integrations", "Clicked \"Webhooks\"", "/settings/integrations"],
      [45.1, "pageview", "Webhooks", "Viewed page Webhooks", "/settings/integrations/webhooks"],
      [51.6, "input", "Webhooks", "Filled field \"Endpoint URL\"", "/settings/integrations/webhooks"],
      [54.0, "click", "Webhooks", "Checked events \"task.created\", \"task.closed\"", "/settings/integrations/webhooks"],
      [56.3, "click", "Webhooks", "Clicked \"Send test event\"", "/settings/integrations/webhooks"],
      [58.2, "error", "Webhooks", "Saw error \"Endpoint answered 401 Unauthorized\"", "/settings/integrations/webhooks"],
      [66.9, "click", "Webhooks", "Clicked \"Show signing secret\"", "/settings/integrations/webhooks"],
      [67.5, "click", "Webhooks", "Copied signing secret", "/settings/integrations/webhooks"],
      [82.0, "click", "Webhooks", "Clicked \"Send test event\"", "/settings/integrations/webhooks"],
      [83.4, "error", "Webhooks", "Saw error \"Endpoint answered 401 Unauthorized\"", "/settings/integrations/webhooks"],
      [91.7, "click", "Webhooks", "Opened docs \"Verifying webhook signatures\"", "/settings/integrations/webhooks"],
      [106.3, "click", "Webhooks", "Clicked \"Send test event\"", "/settings/integrations/webhooks"],
      [107.1, "click", "Webhooks", "Saw \"Delivered: 200 OK\"", "/settings/integrations/webhooks"],
      [115.0, "pageview", "My tasks", "Viewed page My tasks", "/my-tasks"],
    ],
  },
];
