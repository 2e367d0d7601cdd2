# Accounts: the files every Linux image has, with safe ownership and modes.
control 'sidescan-accounts-01' do
  impact 0.7
  title '/etc/passwd is owned by root and not writable by others'
  desc 'A writable account database lets any process add a root account.'
  tag nist: ['AC-6']
  describe file('/etc/passwd') do
    it { should be_owned_by 'root' }
    it { should_not be_writable.by('others') }
  end
end

control 'sidescan-accounts-02' do
  impact 0.5
  title 'No account other than root has UID 0'
  tag nist: ['IA-2']
  describe passwd.where { uid == '0' } do
    its('users') { should cmp ['root'] }
  end
end
