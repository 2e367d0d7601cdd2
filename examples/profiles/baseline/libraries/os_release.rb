# Reads ID= from /etc/os-release (empty when the file is missing, as in scratch images).
class OsRelease
  def initialize(inspec)
    @inspec = inspec
  end

  def id
    file = @inspec.file('/etc/os-release')
    return '' unless file.exist?

    line = file.content.lines.find { |l| l.start_with?('ID=') }
    line ? line.split('=', 2).last.strip.delete('"') : ''
  end
end
