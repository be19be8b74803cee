// Evaluates contrib/polkit/50-imdomaind.rules the way polkitd calls a rule (an action with
// lookup(), a subject with user) without a running polkitd or systemd: the rule says YES to
// exactly `systemctl reload` of prosody.service and ejabberd.service by user imdomaind.
// usage: node check-polkit.js RULES_FILE   (prints TAP)
const fs = require("fs");
const rules = [];
const polkit = {
    Result: { YES: "yes", NO: "no", NOT_HANDLED: null },
    addRule: (f) => rules.push(f),
};
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);

function decide(user, id, unit, verb) {
    const action = { id: id, lookup: (k) => ({ unit: unit, verb: verb })[k] };
    for (const r of rules) {
        const res = r(action, { user: user });
        if (res !== null && res !== undefined) return res;
    }
    return null;
}

const M = "org.freedesktop.systemd1.manage-units";
const cases = [
    ["imdomaind reloads prosody.service", decide("imdomaind", M, "prosody.service", "reload"), "yes"],
    ["imdomaind reloads ejabberd.service", decide("imdomaind", M, "ejabberd.service", "reload"), "yes"],
    ["imdomaind may not restart prosody.service", decide("imdomaind", M, "prosody.service", "restart"), null],
    ["imdomaind may not stop prosody.service", decide("imdomaind", M, "prosody.service", "stop"), null],
    ["imdomaind may not reload ssh.service", decide("imdomaind", M, "ssh.service", "reload"), null],
    ["another user may not reload prosody.service", decide("nobody", M, "prosody.service", "reload"), null],
    ["other actions are not handled", decide("imdomaind", "org.freedesktop.login1.reboot", "", ""), null],
];
console.log("1.." + cases.length);
let failed = 0;
cases.forEach(([name, got, want], i) => {
    const ok = got === want;
    if (!ok) failed++;
    console.log((ok ? "ok " : "not ok ") + (i + 1) + " - polkit: " + name + (ok ? "" : " (got " + got + ")"));
});
process.exit(failed ? 1 : 0);
