# OS identity: the image says what it is.
require_relative '../libraries/os_release'

control 'sidescan-os-01' do
  impact 0.3
  title 'The image declares its operating system'
  tag nist: ['CM-8']
  describe OsRelease.new(inspec).id do
    it { should_not be_empty }
  end
end

control 'sidescan-os-02' do
  impact 0.5
  title 'The approved banner is installed'
  tag nist: ['AC-8']
  describe file('/etc/issue') do
    its('content') { should match(/#{Regexp.escape(File.read(File.join(__dir__, '..', 'files', 'banner.txt')).lines.first.strip)}/) }
  end
end
