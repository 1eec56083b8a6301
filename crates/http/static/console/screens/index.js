// Every screen by its hash route's first segment, and the sections the
// navigation offers to admins and to members.

import { dashboard } from "./dashboard.js";
import { members } from "./members.js";
import { authors } from "./authors.js";
import { books } from "./books.js";
import { audit } from "./audit.js";
import { loans } from "./loans.js";
import { imports } from "./imports.js";
import { webhooks } from "./webhooks.js";
import { deliveries } from "./deliveries.js";
import { attempts } from "./attempts.js";
import { events } from "./events.js";
import { inbound } from "./inbound.js";
import { notifications } from "./notifications.js";
import { campaigns } from "./campaigns.js";
import { settings } from "./settings.js";
import { me } from "./me.js";

export const SCREENS = {
  dashboard,
  members,
  authors,
  books,
  audit,
  loans,
  imports,
  webhooks,
  deliveries,
  // Reached from deliveries and webhooks, not from the navigation.
  attempts: { ...attempts, adminOnly: true },
  events,
  inbound,
  notifications,
  campaigns,
  settings,
  me: { ...me, anyone: true },
};

export const ADMIN_SECTIONS = [
  ["/dashboard", "Dashboard"],
  ["/members", "Members"],
  ["/authors", "Authors"],
  ["/books", "Books"],
  ["/audit", "Audit log"],
  ["/loans", "Loans"],
  ["/imports", "Imports"],
  ["/webhooks", "Webhooks"],
  ["/deliveries", "Deliveries"],
  ["/attempts", "Attempt log"],
  ["/events", "Events"],
  ["/inbound", "Inbound"],
  ["/notifications", "Notifications"],
  ["/campaigns", "Campaigns"],
  ["/settings", "Settings"],
];

export const MEMBER_SECTIONS = [["/me", "My account"]];
