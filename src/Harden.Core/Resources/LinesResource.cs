using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// Drops the data lines of a distribution's file whose numeric field is below a minimum, keeping
/// every comment and every other line as it is: <c>/etc/ssh/moduli</c> without Diffie-Hellman groups
/// under 3072 bits. The file keeps its mode and owner; restore puts the run's backup back (the same
/// inverse as a whole file, <see cref="FileResource.RestoreAsync"/>), unless it changed since.
/// </summary>
public sealed class LinesResource(string module, string path, int field, long minimum) : IResource, ITextEdit
{
    public const string Kind = "lines";

    public Address Address { get; } = new(Kind, path);
    public string Module => module;
    public string Path => path;
    public string? Validator => null;
    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, path)];
    public IEnumerable<Address> DependsOn => [];

    /// <summary>The text with the data lines below the minimum removed.</summary>
    public string Edit(string current) =>
        string.Join('\n', current.Split('\n').Where(line => !Below(line)));

    private bool Below(string line)
    {
        if (line.TrimStart().StartsWith('#')) return false;
        var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= field && long.TryParse(fields[field - 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value < minimum;
    }

    public Change Plan(HostSnapshot host)
    {
        var file = host.File(path);
        file.EnsureManageable(path);
        if (!file.Exists) return new Change(Address, module, ChangeAction.NoOp, null, null, "") { Resource = this };
        var text = Encoding.UTF8.GetString(file.Content);
        var edited = Edit(text);
        var before = FileResource.Observe(file, host);
        if (edited == text) return new Change(Address, module, ChangeAction.NoOp, before, before, "") { Resource = this };
        var dataLeft = edited.Split('\n').Count(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'));
        if (dataLeft == 0)
            throw new HardenException($"{path}: every line has field {field} below {minimum}; harden will not empty it (regenerate it with ssh-keygen -M generate)");
        var removed = text.Split('\n').Length - edited.Split('\n').Length;
        var after = before.SetItem("sha256", FileState.Digest(Encoding.UTF8.GetBytes(edited)));
        return new Change(Address, module, ChangeAction.Update, before, after,
            $"remove {removed} line(s) whose field {field} is below {minimum}", TextFile.Diff(path, file, text, edited)) { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var file = fx.ReadFile(path);
        file.EnsureManageable(path);
        var edited = Encoding.UTF8.GetBytes(Edit(Encoding.UTF8.GetString(file.Content)));
        fx.WriteFile(path, edited, file.Mode, file.Uid, file.Gid);
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>((change.After ?? State.Of()).SetItem("sha256", FileState.Digest(edited)));
    }
}
