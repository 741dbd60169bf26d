using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Access;

/// <summary>
/// The firewall and sshd must agree: rules that admit SSH on 22 while sshd listens on 2222 (a Port
/// drop-in, as many hardened hosts have) lock everyone out at the next boot, where no timed revert
/// runs. The ports sshd listens on are read from its files (Port lines add up; a ListenAddress with a
/// port adds that one; 22 when none); the ports harden's nftables rules admit from the rendered file.
/// </summary>
public static partial class FirewallReach
{
    public const string RulesPath = "/etc/nftables.conf";

    /// <summary>Null when the firewall (if the plan writes one) admits a port sshd listens on; else why not and the fix.</summary>
    public static string? Refusal(Plan plan, HostSnapshot host)
    {
        if (plan.Changes.Select(c => c.Resource).OfType<FileResource>().FirstOrDefault(f => f.Path == RulesPath) is not { } rules) return null;
        var admitted = Admitted(rules.Content);
        var listening = SshdPorts(host);
        if (listening.Overlaps(admitted)) return null;
        var ports = string.Join(",", listening.Order());
        return $"the firewall would admit SSH on port {string.Join(", ", admitted.Order())} only, while sshd listens on {string.Join(", ", listening.Order())}: " +
               $"at the next boot nobody could log in. Fix: --set firewall_ssh_port={listening.Order().First()}" +
               (listening.Count > 1 ? $" (sshd listens on {ports}; the others stay closed)" : "");
    }

    /// <summary>Every TCP port the rules accept, from "tcp dport N accept" and "tcp dport { a, b } accept".</summary>
    public static HashSet<int> Admitted(string rules) =>
        [.. DportRule().Matches(rules).SelectMany(m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).Where(n => n > 0)];

    [GeneratedRegex(@"tcp dport \{?\s*([0-9, ]+?)\s*\}?\s+accept")]
    private static partial Regex DportRule();

    /// <summary>The ports sshd listens on, as its own files say (global lines; harden manages none of them).</summary>
    public static HashSet<int> SshdPorts(HostSnapshot host)
    {
        var ports = new HashSet<int>();
        foreach (var path in new[] { HostReader.SshdConfig }.Concat(host.SshdIncludes))
        {
            var file = host.File(path);
            if (!file.Exists) continue;
            foreach (var s in SshdConfig.Parse(Encoding.UTF8.GetString(file.Content), withManagedBlocks: true).Where(s => s.Global))
            {
                if (s.Key == "port" && int.TryParse(s.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port)) ports.Add(port);
                if (s.Key == "listenaddress" && ListenPort().Match(s.Value) is { Success: true } m) ports.Add(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }
        return ports.Count > 0 ? ports : [22];
    }

    [GeneratedRegex(@"(?:^\[[^\]]+\]|^[^:\s]+):([0-9]{1,5})(?:\s|$)")]
    private static partial Regex ListenPort();
}
