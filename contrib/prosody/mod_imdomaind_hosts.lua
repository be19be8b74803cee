-- mod_imdomaind_hosts: make Prosody follow the VirtualHost file imdomaind writes.
--
-- Prosody 0.12 re-reads its configuration on `prosodyctl reload` but neither activates a
-- VirtualHost added since it started nor drops one that was removed. imdomaind rewrites an
-- included file of VirtualHost lines and then runs its reload hook; this global module brings
-- the running hosts in line with the configuration after every reload.
--
-- Load it globally: plugin_paths = { "/usr/share/imdomaind/prosody" }
--                   modules_enabled = { ..., "imdomaind_hosts" }
module:set_global();

local hostmanager = require "core.hostmanager";
local configmanager = require "core.configmanager";

module:hook_global("config-reloaded", function ()
    local defined = {};
    for host, conf in pairs(configmanager.getconfig()) do
        if host ~= "*" and conf.enabled ~= false then
            defined[host] = true;
            if not prosody.hosts[host] then
                module:log("info", "activating host %s", host);
                hostmanager.activate(host, conf);
            end
        end
    end
    for host in pairs(prosody.hosts) do
        if not defined[host] then
            module:log("info", "deactivating host %s", host);
            hostmanager.deactivate(host);
        end
    end
end);
