using System.Text;
using Harden.Host;

namespace Harden.Execution;

/// <summary>
/// One harden run per root at a time. .NET takes an exclusive flock for FileShare.None on Unix, and
/// the kernel drops it when the process dies, so a crashed run never leaves a stale lock behind.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream _stream;

    private RunLock(FileStream stream) => _stream = stream;

    public static async Task<RunLock> AcquireAsync(HostRoot root, TimeSpan wait, Action<string> report, CancellationToken ct)
    {
        var directory = root.Map(RunJournal.StateDirectory);
        if (root.FindSymlink(RunJournal.StateDirectory) is { } link)
            throw new HardenException($"refusing to use a state directory that is a symlink: {link}");
        Directory.CreateDirectory(directory);
        var path = directory + "/lock";
        // Opening the lock creates it: a planted link would make that create a file wherever it points.
        foreach (var name in new[] { "/lock", "/lock.owner" })
        {
            if (root.FindSymlink(RunJournal.StateDirectory + name) is { } planted)
                throw new HardenException($"refusing to use {directory}{name}: it is a symlink ({planted}); remove it");
        }
        var deadline = DateTime.UtcNow + wait;
        var told = false;
        while (true)
        {
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                try
                {
                    // The holder's pid goes in a file of its own: .NET takes a shared flock to read the
                    // lock file itself, which the exclusive lock refuses.
                    AtomicFile.WriteMapped(path + ".owner", Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"),
                        UnixFileMode.UserRead | UnixFileMode.UserWrite, 0, 0);
                }
                catch (IOException e)
                {
                    // Not contention: the state folder cannot be written (full, read-only). Say so now.
                    stream.Dispose();
                    throw new HardenException($"cannot record the run lock in {directory}: {e.Message}; nothing was changed");
                }
                return new RunLock(stream);
            }
            catch (IOException)
            {
                var holder = ReadHolder(path + ".owner");
                if (DateTime.UtcNow >= deadline)
                    throw new HardenException($"another harden run (pid {holder}) holds the lock {path}");
                if (!told)
                {
                    report($"waiting for another harden run (pid {holder}) to finish…");
                    told = true;
                }
                await Task.Delay(200, ct);
            }
        }
    }

    private static string ReadHolder(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim() is { Length: > 0 } pid ? pid : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public void Dispose() => _stream.Dispose();
}
