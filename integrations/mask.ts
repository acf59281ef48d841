// Masks for what the offline drivers write and log: enough to tell values apart, not enough to use.

export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7) return '*'.repeat(digits.length);
  return `${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}`;
}

export function maskToken(token: string): string {
  return token.length <= 12 ? '*'.repeat(token.length) : `${token.slice(0, 6)}…${token.slice(-4)}`;
}
