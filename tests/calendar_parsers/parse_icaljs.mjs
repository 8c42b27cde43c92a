// Reads an .ics file with Mozilla's ical.js and prints, per UID, the start as a UTC
// instant (timed events) or a date (all-day events), plus SEQUENCE, STATUS, TRANSP and
// SUMMARY.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(zone));
}
const out = {};
for (const component of calendar.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(component);
  const start = event.startDate;
  out[event.uid] = {
    start: start.isDate ? start.toString() : start.toJSDate().toISOString().replace(".000Z", "Z"),
    sequence: event.sequence,
    status: component.getFirstPropertyValue("status"),
    transp: component.getFirstPropertyValue("transp"),
    summary: event.summary,
    alarms: component.getAllSubcomponents("valarm").length,
  };
}
process.stdout.write(JSON.stringify(out));
