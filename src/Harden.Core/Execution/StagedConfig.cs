using System.Text;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Execution;

/// <summary>
/// Checks the configuration a run is about to write before any real file is replaced: every file the
/// plan edits is written, as it would become, into a private staging folder inside the root, and the
/// daemon's own checker reads the staged copy (<c>sshd -t -f</c>, <c>rsyslogd -N1 -f</c>, with their
/// Include paths pointed at the stage). There is never a moment with a broken configuration on disk.
/// </summary>
public sealed class StagedConfig(HostRoot root, ICommandRunner runner, Action<string> report)
{
    private const string SshDir = "/etc/ssh";
    private const string RsyslogMain = "/etc/rsyslog.conf";
    private const string RsyslogDir = "/etc/rsyslog.d";

    /// <returns>Null when every check passes; else the checker's words.</returns>
    public async Task<string?> CheckAsync(IReadOnlyList<Change> changes, string stageTarget, CancellationToken ct)
    {
        var edits = changes.Where(c => c.IsChange).Select(c => c.Resource).OfType<ITextEdit>().ToList();
        var validators = edits.Select(e => e.Validator).OfType<string>().Distinct().ToList();
        if (validators.Count == 0) return null;

        // What each edited file would become, edits applied in plan order.
        var candidates = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var edit in edits)
        {
            var current = candidates.TryGetValue(edit.Path, out var text) ? text : Read(edit.Path);
            candidates[edit.Path] = edit.Edit(current);
        }

        root.EnsureDirectory(stageTarget, PrivateFolder, 0, 0);
        try
        {
            var checker = new Validators(runner);
            foreach (var validator in validators)
            {
                var failure = validator switch
                {
                    Planner.SshdValidator => await StageTreeAsync(checker, validator, candidates, stageTarget, "/etc/ssh/sshd_config", SshDir + "/sshd_config.d", ct),
                    "rsyslog" => await StageTreeAsync(checker, validator, candidates, stageTarget, RsyslogMain, RsyslogDir, ct),
                    _ => await StageFilesAsync(checker, validator, edits.Where(e => e.Validator == validator).Select(e => e.Path).Distinct(), candidates, stageTarget, ct),
                };
                if (failure is not null) return failure;
            }
            return null;
        }
        finally
        {
            root.RemoveTree(stageTarget);
        }
    }

    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>A staged copy: private, through the root's handle, not fsync'd (it is deleted after the check).</summary>
    private void Stage(string target, string text) =>
        root.Write(target, Encoding.UTF8.GetBytes(text), UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, 0, durable: false);

    private string Read(string path) => HostReader.ReadFile(root, path) is { Exists: true } f ? Encoding.UTF8.GetString(f.Content) : "";

    /// <summary>A main file and its include folder, copied with candidates in place and includes pointed at the copy.</summary>
    private async Task<string?> StageTreeAsync(Validators checker, string validator, Dictionary<string, string> candidates,
        string stageTarget, string main, string includeDir, CancellationToken ct)
    {
        var stagedDir = $"{stageTarget}/{validator}";
        var stagedIncludes = $"{stagedDir}/{Path.GetFileName(includeDir)}";
        root.EnsureDirectory(stagedDir, PrivateFolder, 0, 0);
        root.EnsureDirectory(stagedIncludes, PrivateFolder, 0, 0);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, kind) in root.List(includeDir) ?? [])
        {
            if (kind != EntryKind.Directory && name.EndsWith(".conf", StringComparison.Ordinal)) files.Add(includeDir + "/" + name);
        }
        foreach (var path in candidates.Keys.Where(p => p.StartsWith(includeDir + "/", StringComparison.Ordinal) && p.EndsWith(".conf", StringComparison.Ordinal)))
            files.Add(path);
        // Include lines however they are spelled (case, tabs, '=', relative to the daemon's folder) read the stage.
        var folder = Regex.Escape(Path.GetFileName(includeDir));
        var parent = Regex.Escape(Path.GetDirectoryName(includeDir)! + "/");
        var includeWord = new Regex(@"^\s*(include|\$includeconfig)\b|include\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        var target = new Regex($@"(?<=[\s=""'(]|^)({parent})?{folder}/", RegexOptions.CultureInvariant);
        string Repoint(string text) => string.Join('\n', text.Split('\n')
            .Select(l => includeWord.IsMatch(l) ? target.Replace(l, stagedIncludes + "/") : l));
        foreach (var file in files)
        {
            var text = candidates.TryGetValue(file, out var c) ? c : Read(file);
            Stage($"{stagedIncludes}/{Path.GetFileName(file)}", Repoint(text));
        }
        var mainText = Repoint(candidates.TryGetValue(main, out var m) ? m : Read(main));
        var stagedMain = $"{stagedDir}/{Path.GetFileName(main)}";
        Stage(stagedMain, mainText);
        report($"  checking the staged {validator} configuration ({validator switch { Planner.SshdValidator => "sshd -t -f", _ => "rsyslogd -N1 -f" }} {stagedMain})");
        return await checker.CheckAsync(validator, stagedMain, mainText, ct);
    }

    private async Task<string?> StageFilesAsync(Validators checker, string validator, IEnumerable<string> paths,
        Dictionary<string, string> candidates, string stageTarget, CancellationToken ct)
    {
        var index = 0;
        foreach (var path in paths)
        {
            var staged = $"{stageTarget}/{index++:D3}-{Path.GetFileName(path)}";
            Stage(staged, candidates[path]);
            report($"  checking {path} ({validator})");
            if (await checker.CheckAsync(validator, staged, candidates[path], ct) is { } failure)
                return failure.Replace(staged, path, StringComparison.Ordinal);
        }
        return null;
    }
}
