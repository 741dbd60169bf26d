using System.CommandLine;
using System.Text;

namespace Harden.Cli;

/// <summary>
/// harden manpage (hidden): harden.1 in troff, generated from the command tree itself, so the man
/// page the Debian package ships can never disagree with --help.
/// </summary>
internal static class ManCommand
{
    public static Command Create(Streams io, RootCommand root)
    {
        var command = new Command("manpage", "Print harden.1 (troff), generated from the command tree") { Hidden = true };
        command.SetAction((_, _) => io.GuardAsync(async () =>
        {
            await io.Out.WriteAsync(Render(root, Workflow.ToolVersion.Split('+')[0]));
            return ExitCodes.Success;
        }));
        return command;
    }

    public static string Render(RootCommand root, string version)
    {
        var sb = new StringBuilder();
        sb.Append($".TH HARDEN 1 \"\" \"harden {Escape(version)}\" \"System Administration\"\n");
        sb.Append(".SH NAME\nharden \\- bring a Linux server to the HIPAA Security Rule technical safeguards and keep it there\n");
        sb.Append(".SH SYNOPSIS\n");
        foreach (var (path, cmd) in Leaves(root, "harden"))
            sb.Append($".B {Escape(path)}\n{string.Concat(cmd.Arguments.Select(a => $"\\fI{Escape(a.Name)}\\fR "))}[\\fIoptions\\fR]\n.br\n");
        sb.Append(".SH DESCRIPTION\n").Append(Escape(root.Description ?? "")).Append('\n');
        sb.Append(".SH COMMANDS\n");
        foreach (var (path, cmd) in Leaves(root, "harden"))
        {
            sb.Append($".SS {Escape(path)}\n{Escape(cmd.Description ?? "")}\n");
            foreach (var argument in cmd.Arguments)
                sb.Append($".TP\n.I {Escape(argument.Name)}\n{Escape(argument.Description ?? "")}\n");
            foreach (var option in cmd.Options.Where(o => !o.Hidden))
            {
                var names = string.Join(", ", new[] { option.Name }.Concat(option.Aliases).Select(n => $"\\fB{Escape(n)}\\fR"));
                var value = option.HelpName is { } help ? $" \\fI{Escape(help)}\\fR" : option.ValueType == typeof(bool) ? "" : " \\fIVALUE\\fR";
                sb.Append($".TP\n{names}{value}\n{Escape(option.Description ?? "")}\n");
            }
        }
        sb.Append(".SH EXIT STATUS\n");
        foreach (var (code, meaning) in new[]
        {
            (0, "success; nothing (left) to change; check: every applicable control passes"),
            (1, "error (bad input, lock held, stale plan, unfinished run); nothing was changed"),
            (2, "plan --detailed-exitcode: changes are pending; check: a control fails; report merge: a host fails"),
            (3, "apply refused: it would lock everyone out of SSH"),
            (4, "apply failed (or was interrupted) and the host was restored"),
            (5, "a restore could not finish; the message names what is left and the command that finishes it"),
            (6, "rollback kept changes made since the run; --force puts them back too"),
            (7, "the audit rules are immutable until the next boot: reboot to finish"),
        })
            sb.Append($".TP\n.B {code}\n{Escape(meaning)}\n");
        sb.Append(".SH FILES\n.TP\n.I /var/lib/harden\nRun journals, backups and the lock (0700).\n");
        sb.Append(".TP\n.I /usr/share/harden/profiles\nThe shipped profiles, to copy and pass with \\fB\\-\\-profile\\fR \\fIPATH\\fR.\n");
        sb.Append(".TP\n.I /usr/share/harden/templates\nThe shipped templates, to copy and override with \\fB\\-\\-templates\\fR \\fIDIR\\fR.\n");
        sb.Append(".SH SEE ALSO\n.BR sshd_config (5),\n.BR auditctl (8),\n.BR pam_faillock (8),\n.BR ssh-keygen (1)\n");
        return sb.ToString();
    }

    /// <summary>Every command that runs something, with its full name ("harden report merge"), hidden ones left out.</summary>
    private static IEnumerable<(string Path, Command Command)> Leaves(Command command, string path)
    {
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
        {
            var full = $"{path} {sub.Name}";
            if (sub.Subcommands.Count == 0 || sub.Action is not null) yield return (full, sub);
            foreach (var leaf in Leaves(sub, full)) yield return leaf;
        }
    }

    /// <summary>troff: a backslash is \e, a hyphen \-, and no line may start with . or '.</summary>
    private static string Escape(string text)
    {
        var escaped = text.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal);
        return string.Join('\n', escaped.Split('\n').Select(l => l.StartsWith('.') || l.StartsWith('\'') ? "\\&" + l : l));
    }
}
