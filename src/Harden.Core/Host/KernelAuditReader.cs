using System.Collections.Immutable;
using System.Diagnostics;

namespace Harden.Host;

/// <summary>
/// Reads the running kernel's audit rules with auditctl (live hosts only; an offline root has no
/// kernel of its own). A host without auditctl, or where it fails, gives null: nothing to compare.
/// </summary>
public static class KernelAuditReader
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static KernelAudit? Read()
    {
        var status = Run("-s");
        var rules = Run("-l");
        if (status is null || rules is null) return null;
        var immutable = status.Split('\n').Any(l => l.Trim() == "enabled 2");
        return new KernelAudit([.. Resources.AuditKernelResource.Rules(rules)], immutable);
    }

    private static string? Run(string flag)
    {
        foreach (var program in (string[])["/usr/sbin/auditctl", "/sbin/auditctl"])
        {
            if (!File.Exists(program)) continue;
            var start = new ProcessStartInfo(program, [flag])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["LC_ALL"] = "C";
            using var process = Process.Start(start);
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill();
                return null;
            }
            return process.ExitCode == 0 ? output.Result : null;
        }
        return null;
    }
}
