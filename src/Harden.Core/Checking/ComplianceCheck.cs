using System.Collections.Immutable;
using Harden.Planning;
using Harden.Profiles;
using Harden.Resources;

namespace Harden.Checking;

/// <summary>
/// Turns a plan into compliance evidence, in pure code: a control per module of the profile, passing
/// when every resource of the module is already as wanted (nothing for apply to do) and nothing the
/// module verifies was found wrong. The plan reads the effective state where it matters (loaded audit
/// rules and kernel settings on a live host, each account's aging, services, packages); the probes
/// (sshd -T, the PAM stack, encryption, backups) add what no resource can read.
/// </summary>
public static class ComplianceCheck
{
    public static ImmutableArray<Control> Controls(Profile profile, Plan plan)
    {
        var controls = ImmutableArray.CreateBuilder<Control>();
        foreach (var module in profile.Modules)
        {
            var citations = module.Citations.Select(Cite).ToImmutableArray();
            if (plan.SkippedModules.FirstOrDefault(s => s.Id == module.Id) is { } skipped)
            {
                controls.Add(new Control(module.Id, module.Title, citations, ControlStatus.NotApplicable, $"not in use: {skipped.Reason}", []));
                continue;
            }
            var findings = plan.Changes.Where(c => c.Module == module.Id).Select(c => FromChange(c, plan)).ToList();
            var prefix = $"module {module.Id}: ";
            findings.AddRange(plan.Warnings.Where(w => w.StartsWith(prefix, StringComparison.Ordinal))
                .Select(w => new Finding(module.Verify ?? module.Id, false, w[prefix.Length..], "nothing to report", Reproduce(plan))));
            if (module.Verify is { } verify && findings.All(f => f.Passed) && plan.Changes.All(c => c.Module != module.Id))
                findings.Add(new Finding(verify, true, "nothing to report", "nothing to report", Reproduce(plan)));
            var failed = findings.Count(f => !f.Passed);
            var summary = failed == 0 ? $"{findings.Count} item(s) checked, all as wanted" : $"{failed} of {findings.Count} item(s) not as wanted";
            controls.Add(new Control(module.Id, module.Title, citations, failed == 0 ? ControlStatus.Pass : ControlStatus.Fail, summary, [.. findings]));
        }
        controls.Add(PlanWarnings(plan));
        return controls.ToImmutable();
    }

    /// <summary>
    /// What plan warns about outside any module: sshd configuration it cannot verify (a linked
    /// include, a Match block sshd -T -C cannot test, no Include before Match) and an unfinished run
    /// fail, since nobody can vouch for the effective state; the rest is for a person to review.
    /// </summary>
    private static Control PlanWarnings(Plan plan)
    {
        var warnings = plan.Warnings.Where(w => !w.StartsWith("module ", StringComparison.Ordinal))
            .Concat(plan.LockoutRisk is { } risk ? [risk] : []).ToList();
        static bool Unverifiable(string w) => w.Contains("sshd", StringComparison.Ordinal) || w.Contains("Match", StringComparison.Ordinal) || w.Contains("did not finish", StringComparison.Ordinal);
        var findings = warnings.Select(w => new Finding("plan", false, w, "nothing to warn about", Reproduce(plan))).ToImmutableArray();
        var status = warnings.Count == 0 ? ControlStatus.Pass : warnings.Any(Unverifiable) ? ControlStatus.Fail : ControlStatus.Manual;
        return new Control("plan-warnings", "Nothing on the host that plan cannot verify or warns about", [Cite("164.312(a)(1)"), Cite("164.312(b)")], status,
            warnings.Count == 0 ? "plan has no warnings" : $"{warnings.Count} warning(s){(status == ControlStatus.Fail ? ", some about settings nobody can verify" : " to review")}", findings);
    }

    public static Citation Cite(string citation) => new(citation, HipaaSections.Title(citation));

    private static Finding FromChange(Change change, Plan plan)
    {
        var subject = change.Address.ToString();
        var command = Command(change.Address, plan);
        if (!change.IsChange) return new Finding(subject, true, Show(change.Before), Show(change.After), command);
        var (found, wanted) = Differing(change.Before, change.After);
        return new Finding(subject, false, change.Reason.Length > 0 ? $"{found} ({change.Reason})" : found, wanted, command);
    }

    /// <summary>The properties that differ, or the whole state when one side is absent.</summary>
    private static (string Found, string Wanted) Differing(ImmutableSortedDictionary<string, string>? before, ImmutableSortedDictionary<string, string>? after)
    {
        if (before is null || after is null) return (Show(before), Show(after));
        var keys = after.Keys.Where(k => before.Get(k) != after[k]).ToList();
        if (keys.Count == 0) return (Show(before), Show(after));
        return (string.Join(", ", keys.Select(k => $"{k} {before.Get(k) ?? "(none)"}")), string.Join(", ", keys.Select(k => $"{k} {after[k]}")));
    }

    private static string Show(ImmutableSortedDictionary<string, string>? state) =>
        state is null ? "absent" : state.Count == 0 ? "present" : string.Join(", ", state.Select(kv => $"{kv.Key} {kv.Value}"));

    private static string Reproduce(Plan plan) =>
        $"harden plan --profile {Quote(plan.Profile)}{(plan.Live ? "" : $" --root {Quote(plan.Root)}")}";

    /// <summary>A command an auditor can run to see the same thing; under an offline root, through chroot.</summary>
    public static string Command(Address address, Plan plan)
    {
        // A key may come from the host (a home folder from /etc/passwd): quoted, never shell syntax.
        var key = Quote(address.Key);
        string? command = address.Kind switch
        {
            FileResource.Kind or DirectoryResource.Kind or ModeResource.Kind => $"stat -c '%a %U:%G' {key}" + (address.Kind == FileResource.Kind ? $" && sha256sum {key}" : ""),
            KeyResource.Kind or BlockResource.Kind or LinesResource.Kind => $"cat {Quote(address.Key.Split('#')[0])}",
            ServiceResource.Kind => $"systemctl is-enabled {key}",
            PackageResource.Kind => $"dpkg-query -W -f='${{Status}} ${{Version}}\\n' {key}",
            // The running kernel's view: through chroot it would be this machine's kernel, not the image's.
            SysctlResource.Kind when plan.Live => $"sysctl {key}",
            AuditKernelResource.Kind when plan.Live => "auditctl -l",
            // One resource covers every human account: chage -l for each of them.
            AccountAgingResource.Kind => "for u in $(awk -F: '$3 >= 1000 && $3 < 60000 {print $1}' /etc/passwd); do chage -l -- \"$u\"; done",
            PasswordLockResource.Kind => $"passwd -S -- {key}",
            UserResource.Kind => $"getent passwd -- {key}",
            GroupResource.Kind => $"getent group -- {key}",
            MemberResource.Kind => $"getent group -- {Quote(address.Key.Split('/')[0])}",
            _ => null,
        };
        if (command is null) return Reproduce(plan);
        return InRoot(command, plan.Root);
    }

    /// <summary>A shell command as a person runs it against the target: as is when the root is /, else through chroot.</summary>
    public static string InRoot(string command, string root) => root == "/" ? command : $"chroot {Quote(root)} sh -c {Quote(command)}";

    /// <summary>A word for a POSIX shell: as is when plain, else in single quotes.</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "_./:@+-=%,".Contains(c)) ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
